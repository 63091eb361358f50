/** The identify stage's only door: the verifier, the development issuer and their types. */
export { createIdentify, verifyCompactJwt } from './verify-token.js';
export { checkAlgorithms } from './algorithms.js';
export { isServiceAccount } from './claims.js';
export { fileKeys, remoteKeys, type GetKey } from './jwks.js';
export type { Identify, IdentifyDeps } from './verify-token.js';
export { ensureDevIssuer, mintDevToken, rotateDevIssuer } from './dev-issuer.js';
export type { DevIssuer, MintDevTokenOptions } from './dev-issuer.js';
export type { Actor, AuthMethod } from './actor.js';
export { unauthenticatedActor } from './actor.js';
export { actorFromClaims } from './claims.js';
export { claimAt } from './claims.js';
