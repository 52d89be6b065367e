import { retrieveSchema } from '@rjsf/utils';

import { FORM_SCHEMA, FORM_VALIDATOR } from '../runtimeenv/form';

describe("the runtime_env form's validator", () => {
  let errors: string[];
  let spies: jest.SpyInstance[];

  beforeEach(() => {
    errors = [];
    const keep = (...args: unknown[]) =>
      errors.push(args.map(String).join(' '));
    spies = [
      jest.spyOn(console, 'error').mockImplementation(keep),
      jest.spyOn(console, 'warn').mockImplementation(keep)
    ];
  });

  afterEach(() => spies.forEach(s => s.mockRestore()));

  it('compiles every field of the shipped schema, $defs references included', () => {
    const properties = FORM_SCHEMA.properties as Record<string, any>;
    for (const [name, field] of Object.entries(properties)) {
      retrieveSchema(FORM_VALIDATOR, field, FORM_SCHEMA as any, undefined);
      FORM_VALIDATOR.isValid(
        field,
        name === 'conda' ? 'env-name' : {},
        FORM_SCHEMA as any
      );
    }
    expect(errors).toEqual([]);
  });

  it('tells a valid environment from one Ray would refuse', () => {
    const valid = FORM_VALIDATOR.validateFormData(
      { uv: ['numpy==2.1.3'] },
      FORM_SCHEMA as any
    );
    expect(valid.errors).toEqual([]);
    const invalid = FORM_VALIDATOR.validateFormData(
      { image_uri: 5 },
      FORM_SCHEMA as any
    );
    expect(invalid.errors.map(e => e.property)).toContain('.image_uri');
    expect(errors).toEqual([]);
  });
});
