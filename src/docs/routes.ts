// GET /docs: the API documentation page, the contract rendered by Swagger UI. Its files come from the swagger-ui-dist
// package, served here (no CDN: the page works without internet), and are found and read on the first request for
// them, never at start-up. The page runs only scripts served from here (a CSP without inline scripts: its start-up
// code is /docs/init.js), calls nothing but this Berth, and is open to everyone, like /openapi.yaml.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Router, type RequestHandler } from 'express';
import { notFound } from '../errors.js';
import { documentedApi } from './open-endpoints.js';

export const DOCS_PATH = '/docs';

/** The package files the page loads, and their types; nothing else of the package is served. */
const PACKAGE_FILES: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

/** Inline styles: Swagger UI sets some style attributes; scripts are this origin's files only. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Berth API</title>
  <link rel="stylesheet" href="docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="docs/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui-bundle.js"></script>
  <script src="docs/init.js"></script>
</body>
</html>
`;

/** Paths are relative to the page (`/docs`), so the page works behind a proxy that mounts Berth under a prefix. */
const INIT_SCRIPT = `window.ui = SwaggerUIBundle({
  url: 'docs/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  // No call to the public validator service: the page talks to this Berth only.
  validatorUrl: null,
  displayRequestDuration: true,
  defaultModelsExpandDepth: 0,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`;

let packageDir: string | undefined;
const packageFile = (name: string) => {
  packageDir ??= dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  return join(packageDir, name);
};

export interface DocsOptions {
  /** BERTH_METRICS_ANONYMOUS: documented on the page (whether /metrics needs a token). */
  metricsAnonymous: boolean;
}

export function docsRoutes(options: DocsOptions): Router {
  const router = Router({ caseSensitive: true, strict: true });
  let document: string | undefined;
  const page: RequestHandler = (_req, res) => {
    res.set({ 'Content-Security-Policy': CONTENT_SECURITY_POLICY, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-cache' });
    res.type('text/html; charset=utf-8').send(PAGE);
  };
  router.get(DOCS_PATH, page);
  router.get(`${DOCS_PATH}/:file`, (req, res, next) => {
    const file = String(req.params.file);
    req.routeTemplate = `${DOCS_PATH}/{file}`;
    res.set('X-Content-Type-Options', 'nosniff');
    if (file === 'init.js') return res.type('text/javascript; charset=utf-8').set('Cache-Control', 'no-cache').send(INIT_SCRIPT);
    if (file === 'openapi.json') {
      document ??= JSON.stringify(documentedApi(options.metricsAnonymous));
      return res.type('application/json').set('Cache-Control', 'no-cache').send(document);
    }
    const type = Object.hasOwn(PACKAGE_FILES, file) ? PACKAGE_FILES[file] : undefined;
    if (!type) return next(notFound(`no such file: ${DOCS_PATH}/${file.slice(0, 100)}`));
    // Cached by browsers for a day; a new Berth version with another swagger-ui-dist changes the ETag.
    res.sendFile(packageFile(file), { headers: { 'Content-Type': type }, maxAge: 86_400_000 }, (error) => {
      if (error && !res.headersSent) next(error);
    });
  });
  return router;
}
