/**
 * The API types are generated from the server's OpenAPI document: this fails
 * when src/generated/openapi.ts is not what `jlpm generate:api` makes of
 * openapi.json now (openapi-typescript's own --check), so the types cannot
 * drift from the contract.
 */
/// <reference types="node" />
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import packageJson from '../package.json';

describe('generated API types', () => {
  it('are what openapi-typescript makes of openapi.json', () => {
    const [command, ...args] = packageJson.scripts['generate:api'].split(' ');
    const check = spawnSync(
      `node_modules/.bin/${command}`,
      [...args, '--check'],
      {
        encoding: 'utf8'
      }
    );
    expect(
      check.status,
      `src/generated/openapi.ts is out of date: run \`jlpm generate:api\`\n${check.stderr}`
    ).toBe(0);
  }, 30000);
});
