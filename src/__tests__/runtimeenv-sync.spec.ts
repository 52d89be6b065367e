import { nullTranslator } from '@jupyterlab/translation';
import {
  addPackage,
  applyToYaml,
  envVarRows,
  findingsFor,
  formData,
  formSchema,
  fromForm,
  generalFindings,
  isSecretName,
  parsePath,
  parseYaml,
  pipPackages,
  requirementName,
  toErrorSchema,
  withEnvVars,
  withPipPackages
} from '../runtimeenv/sync';
import schema from '../../jupyter_ray_dev/runtime_env/schema/runtime_env.schema.json';

const trans = nullTranslator.load('jupyter_ray_dev');

const COMMENTED = `# the project's environment
env_vars:
  A: "1"   # keep me
pip:
  - requests  # http
  - six
`;

describe('YAML <-> form', () => {
  it('parses the text, an empty file and errors with their line', () => {
    expect(parseYaml(COMMENTED, trans).value).toEqual({
      env_vars: { A: '1' },
      pip: ['requests', 'six']
    });
    expect(parseYaml('', trans).value).toEqual({});
    const bad = parseYaml('pip: [six\nenv_vars: {', trans);
    expect(bad.value).toBeNull();
    expect(bad.error?.line).toBeGreaterThan(0);
    expect(parseYaml('- a\n- b\n', trans).error?.message).toMatch(/mapping/);
  });

  it('keeps comments and quoting through a form edit', () => {
    const env = parseYaml(COMMENTED, trans).value!;
    const edited = withEnvVars(env, [
      ...envVarRows(env),
      { name: 'B', value: '2' }
    ]);
    const text = applyToYaml(COMMENTED, edited);
    expect(text).toContain("# the project's environment");
    expect(text).toContain('A: "1"');
    expect(text).toContain('# keep me');
    expect(text).toContain('requests # http');
    expect(parseYaml(text, trans).value).toEqual({
      env_vars: { A: '1', B: '2' },
      pip: ['requests', 'six']
    });
  });

  it('keeps the comment of a value that changed', () => {
    const env = parseYaml(COMMENTED, trans).value!;
    const text = applyToYaml(
      COMMENTED,
      withEnvVars(env, [{ name: 'A', value: 'two' }])
    );
    expect(text).toContain('A: "two" # keep me');
    const number = applyToYaml('n: 1 # a number\n', { n: 'x' });
    expect(number).toContain('# a number');
    expect(parseYaml(number, trans).value).toEqual({ n: 'x' });
  });

  it('returns the text untouched when nothing changed, and drops removed fields', () => {
    const env = parseYaml(COMMENTED, trans).value!;
    expect(applyToYaml(COMMENTED, env)).toBe(COMMENTED);
    const text = applyToYaml(COMMENTED, withPipPackages(env, ['six']));
    expect(parseYaml(text, trans).value).toEqual({
      env_vars: { A: '1' },
      pip: ['six']
    });
    expect(applyToYaml('', {})).toBe('');
    expect(
      parseYaml(applyToYaml('', { env_vars: { X: 'y' } }), trans).value
    ).toEqual({
      env_vars: { X: 'y' }
    });
  });

  it('replaces text that does not parse', () => {
    const text = applyToYaml('pip: [six', { pip: ['six'] });
    expect(parseYaml(text, trans).value).toEqual({ pip: ['six'] });
  });

  it('splits the schema: env vars and pip have their own sections', () => {
    const form = formSchema(schema as any);
    expect(Object.keys(form.properties as object)).not.toContain('env_vars');
    expect(Object.keys(form.properties as object)).toContain('working_dir');
    const env = { working_dir: '.', env_vars: { A: '1' }, pip: ['six'] };
    expect(formData(env)).toEqual({ working_dir: '.' });
    // an emptied form field goes, the own sections and the key order stay
    expect(fromForm(env, { working_dir: '', excludes: [] })).toEqual({
      env_vars: { A: '1' },
      pip: ['six']
    });
    expect(Object.keys(fromForm(env, { working_dir: 'src' }))).toEqual([
      'working_dir',
      'env_vars',
      'pip'
    ]);
  });
});

describe('findings -> fields', () => {
  it('parses field paths', () => {
    expect(parsePath('pip.packages[2]')).toEqual(['pip', 'packages', 2]);
    expect(parsePath('env_vars["A.B"]')).toEqual(['env_vars', 'A.B']);
    expect(parsePath('env_vars.MY-VAR')).toEqual(['env_vars', 'MY-VAR']);
    expect(parsePath('')).toEqual([]);
  });

  it('maps errors of the generated form to rjsf extraErrors', () => {
    const errors = toErrorSchema(
      [
        { path: 'config.setup_timeout_seconds', message: 'must be above 0' },
        { path: 'working_dir', message: 'too big', fix: 'add .rayignore' },
        { path: 'env_vars.A', message: 'own section' },
        { path: '', message: 'whole env' }
      ],
      trans
    );
    expect(errors).toEqual({
      config: { setup_timeout_seconds: { __errors: ['must be above 0'] } },
      working_dir: { __errors: ['too big Fix: add .rayignore'] }
    });
  });

  it('finds the findings of a row, and the ones no field shows', () => {
    const findings = [
      { path: 'env_vars.A', message: 'a' },
      { path: 'env_vars.AB', message: 'ab' },
      { path: 'pip[1]', message: 'p1' },
      { path: 'pip.packages[1]', message: 'pp1' },
      { path: '', message: 'all' },
      { path: 'my_plugin', message: 'plugin' }
    ];
    expect(
      findingsFor(findings, ['env_vars', 'A']).map(f => f.message)
    ).toEqual(['a']);
    expect(findingsFor(findings, ['pip', 1]).map(f => f.message)).toEqual([
      'p1'
    ]);
    expect(
      generalFindings(findings, ['env_vars', 'pip', 'working_dir']).map(
        f => f.message
      )
    ).toEqual(['all', 'plugin']);
  });
});

describe('env vars and pip', () => {
  it('masks secret-looking names', () => {
    expect(isSecretName('HF_TOKEN')).toBe(true);
    expect(isSecretName('aws_secret_access_key')).toBe(true);
    expect(isSecretName('OPENAI_API_KEY')).toBe(true);
    expect(isSecretName('GREETING')).toBe(false);
  });

  it('edits the env vars table', () => {
    const env = { env_vars: { A: '1', N: 3 } };
    expect(envVarRows(env)).toEqual([
      { name: 'A', value: '1' },
      { name: 'N', value: '3' }
    ]);
    expect(withEnvVars(env, [{ name: ' ', value: 'x' }])).toEqual({});
  });

  it('reads and writes the package list in either shape', () => {
    expect(pipPackages({})).toEqual([]);
    expect(pipPackages({ pip: ['a'] })).toEqual(['a']);
    expect(pipPackages({ pip: { packages: ['a'], pip_check: true } })).toEqual([
      'a'
    ]);
    expect(pipPackages({ pip: 'requirements.txt' })).toBeNull();
    expect(
      withPipPackages({ pip: { packages: ['a'], pip_check: true } }, ['b'])
    ).toEqual({
      pip: { packages: ['b'], pip_check: true }
    });
    expect(withPipPackages({ pip: ['a'] }, [])).toEqual({});
  });

  it('adds a package once, replacing one of the same project', () => {
    expect(requirementName('Foo_Bar[x]>=1')).toBe('foo-bar');
    expect(requirementName('./local.whl')).toBeNull();
    expect(addPackage(['six', 'requests'], 'Requests==2.32.3')).toEqual([
      'six',
      'Requests==2.32.3'
    ]);
    expect(addPackage(['six'], 'six')).toEqual(['six']);
    expect(addPackage(['six'], ' torch ')).toEqual(['six', 'torch']);
  });
});
