import { describe, expect, it } from 'vitest';
import { escape, join, tokens, valueAt } from '../src/pointer';

describe('JSON pointers', () => {
  it('escapes ~ before / so that neither is read back as the other', () => {
    expect(escape('a/b~c')).toBe('a~1b~0c');
    expect(escape('~1')).toBe('~01');
    expect(escape(3)).toBe('3');
  });

  it('joins tokens onto a pointer, each escaped', () => {
    expect(join('/parameters', 'a/b', 0)).toBe('/parameters/a~1b/0');
    expect(join('', 'x')).toBe('/x');
    expect(join('/a')).toBe('/a');
  });

  it('reads back the tokens it wrote', () => {
    for (const names of [
      ['a/b', '~1', 'c~'],
      ['a', ''],
      ['0', 'x y']
    ]) {
      expect(tokens(join('', ...names))).toEqual(names);
    }
    expect(tokens('')).toEqual([]);
    // The server answers "/" for an error about the whole body.
    expect(tokens('/')).toEqual([]);
  });

  it('finds the value at a pointer, undefined where the path ends', () => {
    const data = { 'a/b': [{ c: 1 }], n: null };
    expect(valueAt(data, '/a~1b/0/c')).toBe(1);
    expect(valueAt(data, '/a~1b/1/c')).toBeUndefined();
    expect(valueAt(data, '/n/x')).toBeUndefined();
    expect(valueAt(data, '')).toBe(data);
  });
});
