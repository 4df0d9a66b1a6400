/** JSON shown as a tree whose objects and arrays fold (native `<details>`), as text, never as HTML. */
import { useState } from 'preact/hooks';

/** Levels open at first; deeper objects and arrays start folded. */
const OPEN_LEVELS = 3;

function Leaf(props: { value: unknown }): preact.JSX.Element {
  const v = props.value;
  const kind = v === null ? 'null' : typeof v;
  return <span class={`j-${kind}`}>{JSON.stringify(v)}</span>;
}

function Node(props: { name?: string | undefined; value: unknown; depth: number; last: boolean }) {
  const { name, value, depth, last } = props;
  const key = name === undefined ? null : <span class="j-key">{JSON.stringify(name)}: </span>;
  const comma = last ? '' : ',';
  if (value === null || typeof value !== 'object') {
    return (
      <div class="j-line">
        {key}
        <Leaf value={value} />
        {comma}
      </div>
    );
  }
  const array = Array.isArray(value);
  const entries: Array<[string | undefined, unknown]> = array
    ? (value as unknown[]).map((v) => [undefined, v])
    : Object.entries(value as Record<string, unknown>);
  const [open, close] = array ? ['[', ']'] : ['{', '}'];
  if (entries.length === 0) {
    return (
      <div class="j-line">
        {key}
        {open}
        {close}
        {comma}
      </div>
    );
  }
  const n = entries.length;
  return (
    <details class="j-node" open={depth < OPEN_LEVELS}>
      <summary>
        {key}
        {open}
        <span class="j-folded">
          … {n} {array ? (n === 1 ? 'item' : 'items') : n === 1 ? 'key' : 'keys'} {close}
          {comma}
        </span>
      </summary>
      <div class="j-children">
        {entries.map(([k, v], i) => (
          <Node key={i} name={k} value={v} depth={depth + 1} last={i === n - 1} />
        ))}
      </div>
      <div class="j-line j-close">
        {close}
        {comma}
      </div>
    </details>
  );
}

export function JsonTree(props: { value: unknown }): preact.JSX.Element {
  return (
    <div class="json tree">
      <Node value={props.value} depth={0} last />
    </div>
  );
}

/**
 * Put `text` on the clipboard. The Clipboard API needs a secure context, which a loopback origin is; where
 * it is refused, the selection of a scratch textarea is copied instead.
 */
export async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    return;
  } catch {
    // fall back below
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'scratch';
  document.body.append(area);
  area.select();
  document.execCommand('copy');
  area.remove();
}

/** A button that copies what `text()` makes, and says so for a moment. */
export function CopyButton(props: { label: string; text: () => string }): preact.JSX.Element {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      class="copy"
      onClick={() => {
        void copyText(props.text()).then(() => {
          setDone(true);
          setTimeout(() => setDone(false), 1500);
        });
      }}
    >
      {done ? 'Copied' : props.label}
    </button>
  );
}
