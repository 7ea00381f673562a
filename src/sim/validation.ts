/**
 * Request body validation with zod, reporting failures the way Nova's jsonschema layer does
 * ("Invalid input for field/attribute os-migrateLive. Value: {...}. Additional properties are
 * not allowed ('force' was unexpected)"), because clients and operators match on these texts.
 */
import { z } from 'zod';
import { badRequest } from './model.js';

/** Python's repr() of a JSON value, as Nova prints request values in its messages. */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(value);
  if (typeof value === 'string') return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  if (typeof value === 'object') {
    return `{${Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`)
      .join(', ')}}`;
  }
  return String(value);
}

/** Python's str(): strings bare, everything else as repr. */
export function pyStr(value: unknown): string {
  return typeof value === 'string' ? value : pyRepr(value);
}

/** Nova's `parameter_types.boolean` accepted values. */
export const NOVA_BOOLEAN_VALUES: (boolean | string)[] = [
  true,
  'True',
  'TRUE',
  'true',
  '1',
  'ON',
  'On',
  'on',
  'YES',
  'Yes',
  'yes',
  false,
  'False',
  'FALSE',
  'false',
  '0',
  'OFF',
  'Off',
  'off',
  'NO',
  'No',
  'no',
];

const TRUE_VALUES = new Set(['true', '1', 'on', 'yes']);

export function novaBooleanValue(value: boolean | string): boolean {
  return typeof value === 'boolean' ? value : TRUE_VALUES.has(value.toLowerCase());
}

/** A value that must be one of `allowed` (compared like jsonschema's enum). */
export function novaEnum<T extends string | boolean>(allowed: T[]) {
  return z.custom<T>((value) => allowed.some((a) => a === value), {
    error: (issue) => `${pyRepr(issue.input)} is not one of ${pyRepr(allowed)}`,
  });
}

export const novaBoolean = novaEnum(NOVA_BOOLEAN_VALUES);

/** Nova's fqdn-like host parameter: string (or null where allowed), 1..255 characters. */
export const novaHost = z.string().min(1).max(255);

function valueAt(root: unknown, path: PropertyKey[]): unknown {
  let current: unknown = root;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/**
 * Nova words a schema failure as "Invalid input for field/attribute X. Value: V. <message>" only
 * when jsonschema reports a path; a failure of the body's top level is the bare message.
 */
function schemaError(path: readonly PropertyKey[], field: string, value: unknown, message: string) {
  return badRequest(
    path.length === 0
      ? message
      : `Invalid input for field/attribute ${field}. Value: ${pyStr(value)}. ${message}`,
  );
}

/**
 * Validates `body` against `schema`; on failure throws Nova's 400 for the first problem.
 * Required properties are listed separately because zod reports a missing key and a
 * wrong-typed key the same way, while Nova words them differently.
 */
export function validateBody<T>(
  schema: z.ZodType<T>,
  body: unknown,
  required: Record<string, string[]> = {},
): T {
  for (const [objectPath, keys] of Object.entries(required)) {
    const path = objectPath === '' ? [] : objectPath.split('.');
    const target = valueAt(body, path);
    if (target === null || typeof target !== 'object' || Array.isArray(target)) continue;
    for (const key of keys) {
      if (!(key in target)) {
        throw schemaError(path, path[path.length - 1] ?? '', target, `'${key}' is a required property`);
      }
    }
  }
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue) throw badRequest('Invalid input for the request body');
  const path = issue.path;
  if (issue.code === 'unrecognized_keys') {
    const target = valueAt(body, path);
    const field = String(path[path.length - 1] ?? '');
    const keys = issue.keys.map((k) => `'${k}'`).join(', ');
    const verb = issue.keys.length === 1 ? 'was' : 'were';
    throw schemaError(
      path,
      field,
      target,
      `Additional properties are not allowed (${keys} ${verb} unexpected)`,
    );
  }
  const value = valueAt(body, path);
  const field = String(path[path.length - 1] ?? '');
  if (value === undefined && path.length > 0) {
    const parent = valueAt(body, path.slice(0, -1));
    const parentField = String(path[path.length - 2] ?? '');
    throw schemaError(path.slice(0, -1), parentField, parent, `'${field}' is a required property`);
  }
  if (issue.code === 'invalid_type') {
    throw badRequest(
      `Invalid input for field/attribute ${field}. Value: ${pyStr(value)}. ${pyRepr(value)} is not of type '${issue.expected === 'string' ? 'string' : issue.expected}'`,
    );
  }
  if (issue.code === 'too_small' && typeof value === 'string') {
    throw badRequest(`Invalid input for field/attribute ${field}. Value: ${pyStr(value)}. '' is too short`);
  }
  if (issue.code === 'too_big' && typeof value === 'string') {
    throw badRequest(
      `Invalid input for field/attribute ${field}. Value: ${pyStr(value)}. ${pyRepr(value)} is too long`,
    );
  }
  throw badRequest(
    `Invalid input for field/attribute ${field}. Value: ${pyStr(value)}. ${issue.message}`.replace(
      /\s+$/,
      '',
    ),
  );
}

export { jsonType };
