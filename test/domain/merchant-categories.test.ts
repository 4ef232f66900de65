// Merchant category descriptions: every code our data can hold is named, the brand ranges, unknown codes,
// and the shape and size the explorer relies on.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  MERCHANT_CATEGORY_COUNT,
  merchantCategoryDescription,
} from '../../src/domain/merchant-categories.js';
import { generateTransactions } from '../../src/sample/generator.js';
import { REPO_ROOT } from '../helpers/txlake.js';

const SAMPLE = path.join(REPO_ROOT, 'examples', 'combined_transactions.csv');
const COMPILED = path.join(REPO_ROOT, 'dist', 'src', 'domain', 'merchant-categories.js');
const GZIP_BUDGET_BYTES = 8 * 1024;

function merchantCodesOfCsv(text: string): Set<number> {
  const codes = new Set<number>();
  for (const line of text.split('\n').slice(1)) {
    if (line !== '') codes.add(Number(line.split(',')[2]));
  }
  return codes;
}

/**
 * The codes in a generated file large enough to hold all of the generator's codes: the rarest of its 500
 * takes about 1 row in 3,300, so 200,000 rows miss none (and the seed makes the answer the same each run).
 * Sampling the output rather than reading the generator's code list keeps that list private.
 */
async function merchantCodesOfGenerator(): Promise<Set<number>> {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString('latin1');
      callback();
    },
  });
  await generateTransactions({ rows: 200_000, seed: 1, users: 2_000 }, sink);
  return merchantCodesOfCsv(text);
}

function undescribed(codes: Iterable<number>): number[] {
  return [...codes].filter((code) => merchantCategoryDescription(code) === null).sort((a, b) => a - b);
}

// Words that title case leaves in lower case inside a name.
const MINOR_WORDS = new Set(['a', 'an', 'and', 'by', 'for', 'in', 'of', 'on', 'or', 'the', 'to', 'with']);

describe('merchantCategoryDescription', () => {
  it('names every code of the real sample file', () => {
    const codes = merchantCodesOfCsv(readFileSync(SAMPLE, 'utf8'));
    expect(codes.size).toBe(66);
    expect(undescribed(codes)).toEqual([]);
  });

  it('names every code the generator produces', async () => {
    const codes = await merchantCodesOfGenerator();
    expect(codes.size).toBe(500);
    expect(undescribed(codes)).toEqual([]);
  });

  it('uses the common modern names', () => {
    expect(merchantCategoryDescription(5411)).toBe('Grocery Stores, Supermarkets');
    expect(merchantCategoryDescription(5732)).toBe('Electronics Stores');
    expect(merchantCategoryDescription(4829)).toBe('Wire Transfers, Money Orders');
    expect(merchantCategoryDescription(5310)).toBe('Discount Stores');
    expect(merchantCategoryDescription(6513)).toBe('Real Estate Agents and Managers – Rentals');
    expect(merchantCategoryDescription(7298)).toBe('Health and Beauty Spas');
    expect(merchantCategoryDescription(742)).toBe('Veterinary Services');
  });

  it('names the brand ranges by what they share, and nothing just outside them', () => {
    for (const code of [3000, 3058, 3299]) expect(merchantCategoryDescription(code)).toBe('Airlines');
    for (const code of [3351, 3400, 3441]) {
      expect(merchantCategoryDescription(code)).toBe('Car Rental Agencies');
    }
    for (const code of [3501, 3750, 3999]) {
      expect(merchantCategoryDescription(code)).toBe('Lodging – Hotels, Motels, Resorts');
    }
    for (const code of [2999, 3300, 3350, 3442, 3500, 4000]) {
      expect(merchantCategoryDescription(code)).toBeNull();
    }
  });

  it('answers null for a code it does not know', () => {
    for (const code of [0, 1, 741, 9998, 9999, 10000, -5411, 54110]) {
      expect(merchantCategoryDescription(code)).toBeNull();
    }
  });

  it('answers null for a number that is not an integer', () => {
    for (const code of [5411.5, 3000.1, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(merchantCategoryDescription(code)).toBeNull();
    }
  });
});

describe('the description table', () => {
  const descriptions = Array.from({ length: 10_000 }, (_, code) => merchantCategoryDescription(code)).filter(
    (description): description is string => description !== null,
  );

  it('describes about 300 single codes', () => {
    expect(MERCHANT_CATEGORY_COUNT).toBeGreaterThanOrEqual(300);
    // Every code 0–9999 answered by the table alone or by one of the three ranges (890 codes in all).
    expect(descriptions.length).toBe(MERCHANT_CATEGORY_COUNT + 300 + 91 + 499);
  });

  it('keeps each description short, trimmed and in title case', () => {
    for (const description of new Set(descriptions)) {
      expect(description.length, description).toBeLessThanOrEqual(60);
      expect(description.trim(), description).toBe(description);
      expect(description, description).not.toMatch(/\s{2}/);
      expect(description.toUpperCase(), description).not.toBe(description);
      const words = description.split(' ').map((word) => word.replace(/^[(–]+/, ''));
      for (const word of words.slice(1).filter((w) => w !== '' && !MINOR_WORDS.has(w))) {
        expect(word, description).toMatch(/^[A-Z0-9]/);
      }
      expect(words[0], description).toMatch(/^[A-Z0-9]/);
    }
  });

  it('compiles to at most 8 KB gzipped, its budget in the browser bundle', () => {
    if (!existsSync(COMPILED)) throw new Error(`${COMPILED} is missing: run \`npm run build\` first`);
    const gzipped = gzipSync(readFileSync(COMPILED)).length;
    expect(gzipped).toBeLessThanOrEqual(GZIP_BUDGET_BYTES);
  });
});
