// The key domain: the shape of a key, the key file's checksum, Bearer parsing and the key ring.

import { describe, expect, it } from 'vitest';
import {
  bearerToken,
  type KeyFile,
  KeyRing,
  keyDigest,
  newApiKey,
  parseKeyFile,
  parseKeyName,
  serializeKeyFile,
} from '../../src/domain/api-keys.js';

const actor = { user: 'ops', host: 'box' };

function record(name: string, key: string, revoked: string | null = null) {
  return {
    name,
    sha256: keyDigest(key).toString('hex'),
    created: '2026-12-03T00:00:00.000Z',
    created_by: actor,
    revoked,
    revoked_by: revoked === null ? null : actor,
  };
}

describe('API keys', () => {
  it('are txl_ and 256 random bits in base64url, never the same twice', () => {
    const keys = new Set(Array.from({ length: 2000 }, () => newApiKey()));
    expect(keys.size).toBe(2000);
    for (const key of keys) expect(key).toMatch(/^txl_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from([...keys][0]?.slice(4) ?? '', 'base64url')).toHaveLength(32);
  });

  it('names are short tokens', () => {
    for (const good of ['ci', 'reporting.eu-1', 'A_b-9', 'x'.repeat(64)])
      expect(parseKeyName(good)).toBe(good);
    for (const bad of ['', '-x', '.x', 'a b', 'x'.repeat(65), 'é', 'a/b', 'a\n'])
      expect(() => parseKeyName(bad)).toThrow(/key name/);
  });

  it('the key file verifies its content: any change to a record is damage', () => {
    const file: KeyFile = {
      format: 1,
      generation: 3,
      keys: [record('a', newApiKey()), record('b', newApiKey(), '2026-12-03T01:00:00Z')],
    };
    const text = serializeKeyFile(file);
    expect(parseKeyFile(text)).toEqual(file);
    const edits: Array<[string, string]> = [
      ['"generation": 3', '"generation": 4'],
      ['"revoked": "2026-12-03T01:00:00Z"', '"revoked": null'],
      ['"name": "a"', '"name": "c"'],
    ];
    for (const [from, to] of edits) {
      expect(text).toContain(from);
      expect(parseKeyFile(text.replace(from, to))).toEqual({
        damaged: 'its checksum does not match its content',
      });
    }
    expect(parseKeyFile('{"format":1')).toEqual({ damaged: 'it is not valid JSON' });
    expect(parseKeyFile('{"format":2}')).toMatchObject({ damaged: expect.stringMatching(/format 1/) });
    expect(parseKeyFile('null')).toMatchObject({ damaged: expect.any(String) });
  });

  it('Bearer tokens: the scheme is case-insensitive, anything else is missing credentials', () => {
    expect(bearerToken('Bearer abc')).toEqual({ token: 'abc' });
    expect(bearerToken('bEaReR  abc ')).toEqual({ token: 'abc' });
    expect(bearerToken(undefined)).toEqual({ missing: 'no-credentials' });
    expect(bearerToken('')).toEqual({ missing: 'no-credentials' });
    expect(bearerToken('Basic abc')).toEqual({ missing: 'not-bearer' });
    expect(bearerToken('Bearer')).toEqual({ missing: 'not-bearer' });
    expect(bearerToken('Bearerabc')).toEqual({ missing: 'not-bearer' });
  });

  it('the ring names the key presented, and nothing for a near miss or a revoked key left out', () => {
    const keys = Array.from({ length: 5 }, () => newApiKey());
    const ring = new KeyRing(keys.map((key, i) => record(`k${i}`, key)));
    expect(ring.size).toBe(5);
    for (const [i, key] of keys.entries()) expect(ring.authenticate(key)).toBe(`k${i}`);
    const first = keys[0] as string;
    for (const near of [`${first}x`, first.slice(0, -1), first.toUpperCase(), ` ${first}`, '', newApiKey()])
      expect(ring.authenticate(near)).toBeNull();
    expect(new KeyRing([]).authenticate(first)).toBeNull();
    // Remembered keys: asked again, the same answer; a ring of a later key file (first revoked) does not
    // remember what the earlier one verified.
    expect(ring.authenticate(first)).toBe('k0');
    const later = new KeyRing(keys.slice(1).map((key, i) => record(`k${i + 1}`, key)));
    expect(later.authenticate(first)).toBeNull();
    expect(later.authenticate(keys[1] as string)).toBe('k1');
    for (const near of [`${first}x`, first.slice(0, -1)]) expect(ring.authenticate(near)).toBeNull();
  });
});
