/**
 * The generated form's schema and validator: the shipped runtime_env schema
 * (draft 2020-12, as the server's validator reads it) less the fields the
 * editor has its own sections for.
 */
import { customizeValidator } from '@rjsf/validator-ajv8';
import Ajv2020 from 'ajv/dist/2020';

import schema from '../../jupyter_ray_dev/runtime_env/schema/runtime_env.schema.json';
import { formSchema } from './sync';

export const FORM_SCHEMA = formSchema(schema as Record<string, unknown>);

// rjsf's default Ajv knows draft-07 only: with it every subschema fails to
// compile and the form's anyOf fields cannot tell which branch they hold.
export const FORM_VALIDATOR = customizeValidator({ AjvClass: Ajv2020 });
