/**
 * JSON pointers (RFC 6901), the one way the labextension writes and reads them,
 * as nagelfluh_runner.pointer is for the Python parts: error answers, form
 * fields and compared parameters are addressed by pointer, and a field name
 * may hold `/` or `~`.
 */

/** One reference token escaped: `~` as `~0`, `/` as `~1`. */
export function escape(token: string | number): string {
  return String(token).replace(/~/g, '~0').replace(/\//g, '~1');
}

/** `pointer` extended by `tokens`, each escaped: `join('/a', 'b/c') === '/a/b~1c'`. */
export function join(pointer: string, ...tokens: (string | number)[]): string {
  return pointer + tokens.map(token => `/${escape(token)}`).join('');
}

/**
 * The unescaped reference tokens of a pointer: `''` is the whole document, and
 * so is `'/'`, which the server answers for an error about the whole body.
 */
export function tokens(pointer: string): string[] {
  if (pointer === '' || pointer === '/') {
    return [];
  }
  return pointer
    .replace(/^\//, '')
    .split('/')
    .map(token => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** The value at `pointer` in `data`, or undefined when the path does not exist. */
export function valueAt(data: unknown, pointer: string): unknown {
  let current: unknown = data;
  for (const token of tokens(pointer)) {
    if (current === null || typeof current !== 'object') {
      return undefined;
    }
    current = (current as Record<string, unknown>)[token];
  }
  return current;
}
