import {
  byteUnit,
  formatBytes,
  formatNumber,
  scaleBytes,
  splitCode
} from '../cluster/format';

describe('formatNumber', () => {
  it.each([
    [2, '2'],
    [1.5, '1.5'],
    [0.25, '0.25'],
    [1 / 3, '0.33'],
    [1.999999, '2'],
    [0, '0'],
    [-0.001, '0'],
    [1024, '1024']
  ])('formats %p as %p', (value, expected) => {
    expect(formatNumber(value)).toBe(expected);
  });

  it('shows a dash for values that are not numbers', () => {
    expect(formatNumber(NaN)).toBe('–');
    expect(formatNumber(Infinity)).toBe('–');
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [512, '512 B'],
    [1024, '1 KiB'],
    [512 * 1024 ** 2, '512 MiB'],
    [8.5e9, '7.9 GiB'],
    [8 * 1024 ** 3, '8 GiB'],
    [2.5 * 1024 ** 4, '2.5 TiB']
  ])('formats %p bytes as %p', (bytes, expected) => {
    expect(formatBytes(bytes)).toBe(expected);
  });

  it('picks the unit that keeps the amount below 1024', () => {
    expect(byteUnit(1023)).toBe('B');
    expect(byteUnit(1024 ** 3)).toBe('GiB');
    expect(byteUnit(1024 ** 7)).toBe('PiB');
  });

  it('expresses an amount in a given unit', () => {
    expect(scaleBytes(512 * 1024 ** 2, 'GiB')).toEqual({
      value: '0.5',
      unit: 'GiB'
    });
    expect(scaleBytes(1024 ** 2, 'GiB')).toEqual({ value: '0', unit: 'GiB' });
  });
});

describe('splitCode', () => {
  it('marks text in backticks as code', () => {
    expect(
      splitCode('Start Ray (`ray start --head`) or set `RAY_ADDRESS`.')
    ).toEqual([
      { text: 'Start Ray (', code: false },
      { text: 'ray start --head', code: true },
      { text: ') or set ', code: false },
      { text: 'RAY_ADDRESS', code: true },
      { text: '.', code: false }
    ]);
  });

  it('keeps text without code, or with an unmatched backtick, as is', () => {
    expect(splitCode('plain')).toEqual([{ text: 'plain', code: false }]);
    expect(splitCode('a ` b')).toEqual([{ text: 'a ` b', code: false }]);
    expect(splitCode('')).toEqual([]);
  });
});
