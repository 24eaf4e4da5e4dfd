// sucrase ships its types under dist/types/, not beside its modules; these declarations
// give the deep imports their types. compile.ts imports transform from the CommonJS entry
// too, so a bundle that also holds the CommonJS parser (for its tokens) has one copy of
// sucrase, not the ES and the CommonJS builds side by side.
declare module "sucrase/dist/index" {
  export { transform } from "sucrase";
}
declare module "sucrase/dist/parser" {
  export { parse } from "sucrase/dist/types/parser";
}
declare module "sucrase/dist/parser/tokenizer/types" {
  export { TokenType } from "sucrase/dist/types/parser/tokenizer/types";
}
