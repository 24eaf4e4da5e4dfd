// sucrase ships the types of its parser under dist/types/ but not beside the modules; these
// declarations let shared/strategy/compile.ts read the parser's tokens with their types.
declare module "sucrase/dist/parser" {
  export { parse } from "sucrase/dist/types/parser";
}
declare module "sucrase/dist/parser/tokenizer/types" {
  export { TokenType } from "sucrase/dist/types/parser/tokenizer/types";
}
