/** The rules of the --rules file as mcpscope holds them: what each matches and does, its hits, on or off. */
import { useState } from 'preact/hooks';
import { change, listRules, type RuleRow } from './api.js';
import { useLoaded } from './load.js';

export function RulesList(props: { version: number; onChange: () => void }): preact.JSX.Element {
  const { value: rules, problem: loadProblem } = useLoaded(() => listRules(), [props.version]);
  const [changeProblem, setProblem] = useState<string | undefined>(undefined);
  const problem = changeProblem ?? loadProblem;
  const toggle = (rule: RuleRow): void => {
    const path = `/rules/${encodeURIComponent(rule.name)}/${rule.enabled ? 'disable' : 'enable'}`;
    change('POST', path).then(props.onChange, (err: Error) => setProblem(err.message));
  };
  return (
    <>
      <h2>Rules {rules?.file && <span class="muted">{rules.file}</span>}</h2>
      {problem && <p class="problem">{problem}</p>}
      {rules?.file === null && (
        <p class="empty">No rules file: start mcpscope with --rules FILE (docs/interception.md).</p>
      )}
      {rules && rules.rules.length > 0 && (
        <table class="rules">
          <thead>
            <tr>
              <th>name</th>
              <th>action</th>
              <th>match</th>
              <th class="num">hits</th>
              <th>state</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {rules.rules.map((r) => (
              <tr key={r.name} data-rule={r.name} class={r.enabled ? '' : 'disabled'}>
                <td>{r.name}</td>
                <td>{r.action}</td>
                <td class="match">{JSON.stringify(r.match)}</td>
                <td class="num hits">{r.times === undefined ? r.hits : `${r.hits} of ${r.times}`}</td>
                <td class="state">
                  {r.enabled ? 'on' : 'off'}
                  {r.overridden && <span class="muted"> (set here)</span>}
                </td>
                <td>
                  <button type="button" onClick={() => toggle(r)}>
                    {r.enabled ? 'Disable' : 'Enable'}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
