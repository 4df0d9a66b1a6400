/**
 * The Network view: the HTTP exchanges behind a session's messages, on both sides of mcpscope (status,
 * headers with the MCP ones marked and credentials masked, the SSE events a response carried), and what
 * its streams did (opened, closed, resumed with Last-Event-ID, upstream reconnections).
 */
import { useMemo, useState } from 'preact/hooks';
import { MASKED, NETWORK_EVENTS, describeNetwork, isMcpHeader, type Headers } from './feedText.js';
import { duration } from './protocol.js';
import type { FeedEvent } from './types.js';
import { VirtualTable } from './virtual.js';

function HeaderTable(props: { title: string; headers: Headers | undefined }): preact.JSX.Element {
  const entries = Object.entries(props.headers ?? {});
  return (
    <div class="message">
      <h3>{props.title}</h3>
      {entries.length === 0 ? (
        <p class="empty">none recorded</p>
      ) : (
        <table class="headers">
          <tbody>
            {entries.map(([name, value]) => (
              <tr key={name} class={isMcpHeader(name) ? 'mcp-header' : ''} data-header={name}>
                <th>{name}</th>
                <td class={value === MASKED ? 'masked' : ''}>{value}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export function NetworkView(props: {
  events: ReadonlyMap<number, FeedEvent>;
  transport: string | undefined;
}): preact.JSX.Element {
  const rows = useMemo(
    () => [...props.events.values()].filter((e) => NETWORK_EVENTS.has(e.type)).sort((a, b) => a.seq - b.seq),
    [props.events],
  );
  const [selected, setSelected] = useState<number | undefined>(undefined);
  const chosen = rows.find((e) => e.seq === selected);
  return (
    <>
      <p class="muted">
        {rows.length} network events. MCP headers are marked; credentials are masked before mcpscope keeps
        anything.
      </p>
      <div class="timeline network">
        <VirtualTable
          label="Network"
          rows={rows}
          columns={4}
          selected={chosen ? rows.indexOf(chosen) : undefined}
          head={
            <tr>
              <th>time</th>
              <th>what</th>
              <th class="num">duration</th>
              <th>detail</th>
            </tr>
          }
          row={(e) => {
            const d = describeNetwork(e);
            return (
              <tr
                key={e.seq}
                data-seq={e.seq}
                data-type={e.type}
                class={`${e.type === 'http' ? 'request' : 'event'} ${d.failed ? 'failed' : ''} ${e.seq === selected ? 'selected' : ''}`}
                onClick={() => setSelected(e.seq)}
              >
                <td>{new Date(e.time).toLocaleTimeString()}</td>
                <td class="what">{d.what}</td>
                <td class="num">{e.type === 'http' ? duration(Number(e.durationMs)) : ''}</td>
                <td>{d.detail}</td>
              </tr>
            );
          }}
        />
        {rows.length === 0 && (
          <p class="empty">
            {props.transport === 'stdio' || props.transport === 'websocket'
              ? `This client talks over ${props.transport}: no HTTP exchanges on its side (an HTTP upstream's would show here).`
              : 'No HTTP exchanges yet.'}
          </p>
        )}
      </div>
      {chosen?.type === 'http' && (
        <div class="detail" aria-label="Selected exchange">
          <HeaderTable title="Request headers" headers={chosen.headers as Headers} />
          <HeaderTable title="Response headers" headers={chosen.responseHeaders as Headers} />
        </div>
      )}
    </>
  );
}
