/** Break-glass's one door: emergency changes granted by the policy, and their retrospective reviews. */
export { createBreakGlassReviews, type BreakGlassReviews, type BreakGlassReviewsDeps, type BreakGlassStatus } from './reviews.js';
export { breakGlassRoutes, breakGlassSummary, type BreakGlassSummary } from './routes.js';
