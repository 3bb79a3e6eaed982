// Log stream lines for tests: a change in COPY's text format, as a peer would write it.

/** COPY's text escapes: backslash, tab, newline, carriage return. */
const copyEscape = (text: string) => text.replace(/[\\\t\n\r]/g, (ch) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[ch]!);

/** A change as a log stream line (any of its fields as given, so a test can write a malformed one). */
export function streamLine(c: Record<string, unknown>): string {
  const json = (v: unknown) => (v === null || v === undefined ? '\\N' : copyEscape(typeof v === 'string' ? v : JSON.stringify(v)));
  const fields = [
    c.table_name,
    c.record_id,
    c.operation,
    json(c.change_data),
    json(c.old_data),
    c.timestamp,
    copyEscape(String(c.origin_node_id)),
    c.origin_sequence,
    c.hlc,
    c.scope_exit ? 't' : 'f',
  ];
  return `${fields.join('\t')}\n`;
}
