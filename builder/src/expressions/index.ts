// The `{{ expression }}` language of app definitions: parse (jsep), interpret safely over a
// scope, resolve templates and props, and list what an expression reads.
export { evaluateExpression, SCOPE_ROOTS, MAX_STEPS } from "./evaluate";
export type { EvalResult, Scope, ScopeRoot } from "./evaluate";
export { displayText, hasBindings, parseTemplate, resolveProps, resolveTemplate } from "./template";
export type { ResolvedProps, TemplatePart } from "./template";
export { expressionReferences, templateReferences } from "./references";
export type { Reference } from "./references";
