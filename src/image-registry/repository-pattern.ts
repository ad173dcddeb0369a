// Repository patterns of the configuration (credentials, mirrored repositories, repositories retention keeps): `*`,
// or a repository path that covers itself and everything below it on a `/` boundary (`team` covers `team/app`,
// not `teamwork/app`).

/** Whether `pattern` covers `repository`. */
export const coversRepository = (pattern: string, repository: string): boolean =>
  pattern === '*' || repository === pattern || repository.startsWith(`${pattern}/`);

/** Whether any of `patterns` covers `repository`; `undefined` (no list) covers everything. */
export const anyCovers = (patterns: readonly string[] | undefined, repository: string): boolean =>
  patterns === undefined || patterns.some((pattern) => coversRepository(pattern, repository));
