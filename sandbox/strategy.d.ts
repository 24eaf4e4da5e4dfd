// The user's compiled strategy: a separate module of the loaded worker ("./strategy.js"),
// whose default export is the strategy object. Declared here so the entry typechecks.
import type { Strategy } from "../shared/strategy/runtime";

declare const strategy: Strategy;
export default strategy;
