/**
 * Shards of the robustness suite's patch trials (suite.ts trialInputs with size.firstPerson): run one after
 * another they hold exactly the trials of one whole run, victims included, also when enrolments were refused.
 */
import { describe, expect, it } from 'vitest';
import type { TrialInput } from '../../iris/attacks/patch-trials.ts';
import { PACKED_WORDS, type PackedIrisCode } from '../../iris/matcher.ts';
import { FULL_SIZE, type SuiteSize, trialInputs } from './suite.ts';

/** Persons 0.. enrolled in order, some refused, until `count` are in (as runSuite enrols). */
function enrolled(count: number, refused: ReadonlySet<number>): Map<number, PackedIrisCode> {
  const map = new Map<number, PackedIrisCode>();
  for (let person = 0; map.size < count; person++) {
    if (!refused.has(person)) map.set(person, new Uint32Array(PACKED_WORDS).fill(person));
  }
  return map;
}

const size = (firstPerson: number, count: number): SuiteSize => ({
  ...FULL_SIZE,
  sybilRandom: count,
  sybilLens: count,
  sybilWhiteBox: count,
  impersonation: count,
  impersonationWhiteBox: count,
  firstPerson,
});

const key = (t: TrialInput) =>
  t.type === 'enrol'
    ? `enrol ${t.person}`
    : `${t.type} ${t.mode} ${'area' in t ? t.area : 1} ${t.person} ${'victim' in t ? t.victim : '-'} ${t.enrolment[0]}`;

describe('patch trial shards', () => {
  const refused = new Set([3, 41, 42]);

  it('add up to the whole run: same persons, victims and enrolments', () => {
    const whole = trialInputs(size(0, 100), enrolled(101, refused)).map(key);
    const shards = [
      ...trialInputs(size(0, 40), enrolled(41, refused)),
      ...trialInputs(size(40, 60), enrolled(101, refused)),
    ].map(key);
    expect(shards.length).toBe(whole.length);
    expect(new Set(shards)).toEqual(new Set(whole));
    expect(new Set(whole).size).toBe(whole.length);
  });

  it('skip refused enrolments and pair each impersonator with the next enrolled person', () => {
    const trials = trialInputs(size(2, 2), enrolled(5, refused));
    const people = [...new Set(trials.map((t) => t.person))];
    expect(people).toEqual([2, 4]);
    const pairs = trials.flatMap((t) => (t.type === 'impersonation' ? [`${t.person}>${t.victim}`] : []));
    expect(new Set(pairs)).toEqual(new Set(['2>4', '4>5']));
    for (const t of trials) {
      if (t.type === 'enrol') continue;
      const owner = t.type === 'impersonation' ? t.victim : t.person;
      expect(t.enrolment[0], `${key(t)}: the enrolment is its owner's`).toBe(owner);
    }
  });

  it('refuse to pair the last impersonator without a next enrolled person', () => {
    expect(() => trialInputs(size(0, 5), enrolled(5, refused))).toThrow(/no enrolled person after 5/);
  });
});
