import Ajv2020, { type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

type Json = Record<string, unknown>;

/** One real answer checked against the document. */
export interface CheckedAnswer {
  readonly operation: string;
  readonly status: number;
}

const METHODS = ["get", "head", "post", "put", "delete", "options", "patch"] as const;

/**
 * Checks real HTTP answers against an OpenAPI 3.1 document: the operation is found by method and path
 * template, the answer's status must be documented for it, every required header present and matching
 * its schema, and the JSON body valid against the documented schema (ajv, JSON Schema 2020-12, the
 * dialect OpenAPI 3.1 uses). Remembers which operations and statuses it saw, for coverage.
 */
export class ContractChecker {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly compiled = new Map<string, ValidateFunction>();
  public readonly seen: CheckedAnswer[] = [];

  public constructor(private readonly document: Json) {
    addFormats(this.ajv);
    this.ajv.addSchema(document, "openapi.json", undefined, false);
  }

  /** Every `METHOD template` the document describes. */
  public operations(): string[] {
    return Object.entries(this.paths()).flatMap(([template, item]) =>
      METHODS.filter((method) => method in item).map((method) => `${method.toUpperCase()} ${template}`),
    );
  }

  /** The documented path template a concrete path falls under. */
  public templateOf(path: string): string | undefined {
    return Object.keys(this.paths()).find((candidate) =>
      new RegExp(`^${candidate.replace(/\./g, "\\.").replace(/\{[^}]+\}/g, "[^/]+")}$`).test(path),
    );
  }

  /** The documented operation for a concrete request, or `undefined` when the document has none. */
  public operationOf(method: string, path: string): string | undefined {
    const template = this.templateOf(path);
    if (!template || !(method.toLowerCase() in (this.paths()[template] ?? {}))) return undefined;
    return `${method.toUpperCase()} ${template}`;
  }

  /**
   * Checks one answer; reads (and returns) its body. Throws, naming what differs, when it does not match.
   */
  public async check(method: string, url: string, response: Response): Promise<unknown> {
    const path = new URL(url).pathname;
    const template = this.templateOf(path);
    const documented = this.operationOf(method, path);
    // Outside every operation the document states one answer: another method on a path is 405, any
    // other path 404, in the shared error responses.
    const fallback = !template ? "NotFound" : "MethodNotAllowed";
    const operation = documented ?? `${method.toUpperCase()} ${template ?? path} (undocumented)`;
    const pointer = documented
      ? `#/paths/${escapePointer(template ?? "")}/${method.toLowerCase()}/responses/${response.status}`
      : `#/components/responses/${fallback}`;
    if (!documented && response.status !== (fallback === "NotFound" ? 404 : 405)) {
      throw new Error(`${operation} answered ${response.status}; the document only allows its ${fallback}.`);
    }
    const { value: answer, pointer: answerPointer } = this.resolve(pointer);
    if (!answer) throw new Error(`${operation} documents no ${response.status}.`);

    for (const [name, header] of Object.entries((answer.headers ?? {}) as Record<string, Json>)) {
      const { value: spec, pointer: headerPointer } = this.resolveValue(
        header,
        `${answerPointer}/headers/${escapePointer(name)}`,
      );
      const value = response.headers.get(name);
      if (value === null) {
        if (spec.required === true) throw new Error(`${operation} ${response.status} lacks header ${name}.`);
        continue;
      }
      this.validate(`${headerPointer}/schema`, value, `${operation} ${response.status} header ${name}`);
    }

    const text = method === "HEAD" ? "" : await response.text();
    const content = answer.content as Record<string, Json> | undefined;
    if (!content) {
      if (text !== "") throw new Error(`${operation} ${response.status} documents no body, yet one came.`);
    } else if (method !== "HEAD") {
      const type = (response.headers.get("content-type") ?? "").split(";")[0]?.trim() ?? "";
      if (!(type in content)) {
        throw new Error(`${operation} ${response.status}: content type ${type} is not documented.`);
      }
      if (type === "application/json") {
        const body = JSON.parse(text) as unknown;
        this.validate(
          `${answerPointer}/content/${escapePointer(type)}/schema`,
          body,
          `${operation} ${response.status}`,
        );
        this.seen.push({ operation, status: response.status });
        return body;
      }
    }
    this.seen.push({ operation, status: response.status });
    return text;
  }

  private validate(pointer: string, value: unknown, what: string): void {
    let validate = this.compiled.get(pointer);
    if (!validate) {
      validate = this.ajv.compile({ $ref: `openapi.json${pointer}` });
      this.compiled.set(pointer, validate);
    }
    if (!validate(value)) {
      throw new Error(
        `${what} does not match the document: ${this.ajv.errorsText(validate.errors)}\n${JSON.stringify(value)}`,
      );
    }
  }

  private paths(): Record<string, Json> {
    return this.document.paths as Record<string, Json>;
  }

  /** The object at a JSON pointer, following a `$ref` there; `value` undefined when nothing is there. */
  private resolve(pointer: string): { value: Json | undefined; pointer: string } {
    let value: unknown = this.document;
    for (const segment of pointer.slice(2).split("/")) {
      value = (value as Json | undefined)?.[unescapePointer(segment)];
    }
    if (value === undefined) return { value: undefined, pointer };
    return this.resolveValue(value as Json, pointer);
  }

  private resolveValue(value: Json, pointer: string): { value: Json; pointer: string } {
    const ref = value.$ref;
    if (typeof ref !== "string") return { value, pointer };
    const target = this.resolve(ref);
    if (!target.value) throw new Error(`Unresolved ${ref}`);
    return { value: target.value, pointer: target.pointer };
  }
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, "~0").replace(/\//g, "~1");
}

function unescapePointer(segment: string): string {
  return segment.replace(/~1/g, "/").replace(/~0/g, "~");
}
