/** What every HTTP adapter needs to read a request one way only and rebuild it for the platform. */
export { splitTarget, type RequestTarget } from './target.js';
export { formatQuery, parseQuery } from './query.js';
export { acceptMediaType, JSON_UTF8, type DeclaredMediaType } from './media-type.js';
export { fieldNames, MAX_JSON_DEPTH, parseStrictJson, refuseCaseTwins, type FieldNames, type JsonPath, type StrictJsonOptions } from './strict-json.js';
export { decidedRequest } from './decided.js';
export { bodyMalformed, isJsonObject, isJsonPointer, onlyKeys, plainSegments, requireNoBody, type JsonObject } from './body-rules.js';
export { fetchState, type StateFetch } from './state-fetch.js';
