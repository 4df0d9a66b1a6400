/**
 * A table that draws only the rows in view (and a few either side): a session of 10,000 messages scrolls
 * as smoothly as one of ten. Every row is exactly ROW_PX tall (app.css `.virtual tbody tr`), so where a row
 * sits is its index times ROW_PX; what is above and below the drawn rows is one spacer row each.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';

/** The height of every row, px (the CSS says the same). */
export const ROW_PX = 22;
/** Rows drawn beyond each edge of the view, so a quick scroll shows no gap. */
const OVERSCAN = 15;

export interface VirtualTableProps<T> {
  rows: readonly T[];
  /** The header row (`<tr>…</tr>`). */
  head: ComponentChildren;
  columns: number;
  row: (item: T, index: number) => ComponentChildren;
  /** The row to bring into view when it changes (a deep link). */
  selected?: number | undefined;
  /** Stay at the bottom as rows come in, while the view is at the bottom. Default true. */
  follow?: boolean;
  label: string;
}

function Spacer(props: { rows: number; columns: number }): preact.JSX.Element | null {
  if (props.rows <= 0) return null;
  return (
    <tr class="spacer" aria-hidden="true" style={{ height: `${props.rows * ROW_PX}px` }}>
      <td colSpan={props.columns} />
    </tr>
  );
}

export function VirtualTable<T>(props: VirtualTableProps<T>): preact.JSX.Element {
  const box = useRef<HTMLDivElement>(null);
  const [top, setTop] = useState(0);
  const [height, setHeight] = useState(600);
  const atBottom = useRef(true);
  const count = props.rows.length;

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = (): void => setHeight(el.clientHeight || 600);
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  // New rows while at the bottom: stay there (a live session reads like a log).
  useLayoutEffect(() => {
    const el = box.current;
    if (!el || props.follow === false || !atBottom.current || props.selected !== undefined) return;
    el.scrollTop = el.scrollHeight;
    setTop(el.scrollTop);
  }, [count]);

  // A selected row (a deep link, a click elsewhere) is brought into view.
  useEffect(() => {
    const el = box.current;
    const index = props.selected;
    if (!el || index === undefined || index < 0) return;
    const y = index * ROW_PX;
    if (y < el.scrollTop || y + 2 * ROW_PX > el.scrollTop + el.clientHeight) {
      el.scrollTop = Math.max(0, y - el.clientHeight / 2);
      setTop(el.scrollTop);
    }
  }, [props.selected]);

  const onScroll = (): void => {
    const el = box.current;
    if (!el) return;
    atBottom.current = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW_PX;
    setTop(el.scrollTop);
  };

  const first = Math.max(0, Math.floor(top / ROW_PX) - OVERSCAN);
  const last = Math.min(count, Math.ceil((top + height) / ROW_PX) + OVERSCAN);
  const shown: ComponentChildren[] = [];
  for (let i = first; i < last; i++) shown.push(props.row(props.rows[i] as T, i));
  return (
    <div class="virtual" ref={box} onScroll={onScroll} aria-label={props.label}>
      <table>
        <thead>{props.head}</thead>
        <tbody>
          <Spacer rows={first} columns={props.columns} />
          {shown}
          <Spacer rows={count - last} columns={props.columns} />
        </tbody>
      </table>
    </div>
  );
}
