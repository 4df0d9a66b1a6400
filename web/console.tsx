/**
 * The Console view: what the session's stdio server wrote to its stderr, and mcpscope's own warnings and
 * errors for the session (errors it raised, its server process exiting or restarting, holds released at
 * their timeout, streams cut or not resumed, messages it could not deliver, --bridge refusals).
 */
import { useMemo } from 'preact/hooks';
import { consoleLine, type Level } from './feedText.js';
import type { FeedEvent } from './types.js';
import { VirtualTable } from './virtual.js';

export function ConsoleView(props: { events: ReadonlyMap<number, FeedEvent> }): preact.JSX.Element {
  const lines = useMemo(() => {
    const out: Array<{ e: FeedEvent; level: Level; text: string }> = [];
    for (const e of [...props.events.values()].sort((a, b) => a.seq - b.seq)) {
      const line = consoleLine(e);
      if (line) out.push({ e, ...line });
    }
    return out;
  }, [props.events]);
  return (
    <div class="timeline console">
      <VirtualTable
        label="Console"
        rows={lines}
        columns={3}
        head={
          <tr>
            <th>time</th>
            <th>from</th>
            <th>line</th>
          </tr>
        }
        row={(l) => (
          <tr key={l.e.seq} data-seq={l.e.seq} class={`level-${l.level}`}>
            <td>{new Date(l.e.time).toLocaleTimeString()}</td>
            <td class="level">{l.level === 'stderr' ? 'server' : `mcpscope ${l.level}`}</td>
            <td class="line">{l.text}</td>
          </tr>
        )}
      />
      {lines.length === 0 && <p class="empty">Nothing on stderr, and no warnings.</p>}
    </div>
  );
}
