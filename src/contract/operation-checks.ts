// What the contract requires of a request to one operation, checked: its path parameters, its query parameters (and
// no other), its body's media type and its body. One set of checks per operation, read from openapi/berth.yaml and
// compiled with the contract's Ajv when the operation is first called, so a request is checked by the few schemas of
// its own operation and nothing else. Knows nothing of HTTP: it takes the parts of a request, and answers with the
// typed error a client is to be told (error-response.ts maps it to 400 or 415), or nothing when the request passes.
import { BerthError, invalidInput } from '../errors.js';
import { describeAjvErrors, followRef, nodeAtPointer, pointerToFieldPath, validatorFor, type Validator } from './openapi.js';

/** The parts of a request the contract speaks of. */
export interface RequestParts {
  /** Path parameters by the contract's names, percent-decoded. */
  path: Readonly<Record<string, string>>;
  /** Query parameters as parsed: a string, or a list of strings when a name is repeated. */
  query: Readonly<Record<string, unknown>>;
  /** The media type the request declares (Content-Type), lower-cased and without parameters; undefined when none. */
  mediaType: string | undefined;
  /** The parsed body; undefined when the request has none. */
  body: unknown;
}

/** Checks a request against its operation; the error to answer with, or undefined when it passes. */
export type OperationCheck = (request: RequestParts) => BerthError | undefined;

type Node = Record<string, unknown>;

const escapePointer = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1');

// Every query parameter of the contract is optional (test/unit/operation-checks.test.ts holds it to that), so only
// the values present are checked; path parameters are present whenever the path matched.
interface Parameter {
  name: string;
  validate: Validator;
  /** Query strings carry text: an integer parameter is checked as the number its digits spell. */
  integer: boolean;
}

/** The parameters of one operation by location: the path item's, overridden by the operation's of the same name. */
function parametersOf(pathPointer: string, methodPointer: string): { path: Parameter[]; query: Map<string, Parameter> } {
  const byKey = new Map<string, { in: string; parameter: Parameter }>();
  for (const ownerPointer of [pathPointer, methodPointer]) {
    const owner = nodeAtPointer(ownerPointer);
    const list = (owner.parameters ?? []) as Node[];
    list.forEach((entry, index) => {
      const { node, pointer } = followRef({ node: entry, pointer: `${ownerPointer}/parameters/${index}` });
      const schema = followRef({ node: node.schema as Node, pointer: `${pointer}/schema` });
      const parameter = {
        name: String(node.name),
        validate: validatorFor(`#${pointer}/schema`),
        integer: schema.node.type === 'integer',
      };
      byKey.set(`${String(node.in)} ${parameter.name}`, { in: String(node.in), parameter });
    });
  }
  const all = [...byKey.values()];
  return {
    path: all.filter((p) => p.in === 'path').map((p) => p.parameter),
    query: new Map(all.filter((p) => p.in === 'query').map((p) => [p.parameter.name, p.parameter])),
  };
}

const INTEGER_TEXT = /^-?[0-9]{1,16}$/;

/** The problems with one parameter's value, each as `<where>: <what>`. */
function parameterProblems(where: string, parameter: Parameter, value: unknown): string[] {
  const checked = parameter.integer && typeof value === 'string' && INTEGER_TEXT.test(value) ? Number(value) : value;
  if (parameter.validate(checked)) return [];
  return describeAjvErrors(parameter.validate.errors).map((p) => `${where}: ${p.message}`);
}

interface Body {
  required: boolean;
  /** Media type -> its schema's validator. */
  schemas: Map<string, Validator>;
}

function bodyOf(methodPointer: string): Body | undefined {
  const operation = nodeAtPointer(methodPointer);
  if (!operation.requestBody) return undefined;
  const { node, pointer } = followRef({ node: operation.requestBody as Node, pointer: `${methodPointer}/requestBody` });
  const content = (node.content ?? {}) as Record<string, Node>;
  const schemas = new Map(Object.keys(content).map((type) => [type, validatorFor(`#${pointer}/content/${escapePointer(type)}/schema`)]));
  return { required: node.required === true, schemas };
}

/** `a, b or c` */
const oneOfList = (items: string[]) => (items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)!}`);

function bodyProblem(body: Body, request: RequestParts): BerthError | undefined {
  if (request.body === undefined && !body.required) return undefined;
  const offered = [...body.schemas.keys()];
  if (request.mediaType === undefined) {
    return new BerthError('unsupported-media-type', `body: required, with content type ${oneOfList(offered)} (got none)`);
  }
  const validate = body.schemas.get(request.mediaType);
  if (!validate) {
    return new BerthError('unsupported-media-type', `body: content type '${request.mediaType}' is not taken here; use ${oneOfList(offered)}`);
  }
  // A body declared (a Content-Type) but empty.
  if (request.body === undefined) return invalidInput('body: is required');
  if (validate(request.body)) return undefined;
  const problems = describeAjvErrors(validate.errors);
  const messages = problems.map((p) => `${pointerToFieldPath(p.pointer) || 'body'}: ${p.message}`);
  return invalidInput([...new Set(messages)].join('; '), { path: problems[0]?.pointer || '/' });
}

function compileCheck(template: string, method: string): OperationCheck {
  const pathPointer = `/paths/${escapePointer(template)}`;
  const methodPointer = `${pathPointer}/${method.toLowerCase()}`;
  const parameters = parametersOf(pathPointer, methodPointer);
  const body = bodyOf(methodPointer);
  const queryNames = [...parameters.query.keys()];
  return (request) => {
    const problems: string[] = [];
    for (const parameter of parameters.path) {
      problems.push(...parameterProblems(`path parameter '${parameter.name}'`, parameter, request.path[parameter.name]));
    }
    for (const name in request.query) {
      const parameter = parameters.query.get(name);
      if (!parameter) {
        problems.push(`query parameter '${name.slice(0, 100)}': unknown here (this operation takes ${queryNames.length ? queryNames.join(', ') : 'none'})`);
      } else {
        problems.push(...parameterProblems(`query parameter '${name}'`, parameter, request.query[name]));
      }
    }
    if (problems.length > 0) return invalidInput([...new Set(problems)].join('; '));
    return body && bodyProblem(body, request);
  };
}

const checks = new Map<string, OperationCheck>();

/** The checks of the operation `method` `template` (a path of the contract, e.g. `/v1/config/sites/{site-name}`). */
export function operationCheck(template: string, method: string): OperationCheck {
  const key = `${method} ${template}`;
  let check = checks.get(key);
  if (!check) checks.set(key, (check = compileCheck(template, method)));
  return check;
}
