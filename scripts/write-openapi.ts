/** `npm run openapi`: regenerates openapi/openapi.json from the routes' schemas. */
import { writeFileSync } from 'node:fs';
import { openApiDocument } from './openapi-spec.js';

const target = new URL('../openapi/openapi.json', import.meta.url);
writeFileSync(target, await openApiDocument());
console.log(`wrote ${target.pathname}`);
