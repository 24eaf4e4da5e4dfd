// The source the code editor starts from.
// Plain JavaScript, which is also TypeScript: it saves under either language (with a type
// assertion in it, switching the language to JavaScript left a syntax error to fix).
export const STARTER_SOURCE = `// A strategy is a module whose default export defines the callbacks it needs.
// ctx.params: your parameters; ctx.state: memory kept across restarts; ctx.log: the log tail.
export default {
  onStart(ctx) {
    // onStart runs again after a restart: keep what the state already holds.
    ctx.state.closes ??= [];
  },
  onBar(bar, ctx) {
    const closes = ctx.state.closes;
    closes.push(bar.close);
    if (closes.length > 20) closes.shift();
    const mean = closes.reduce((a, b) => a + b, 0) / closes.length;
    const long = Number(ctx.position.qty) > 0;
    if (!long && closes.length === 20 && bar.close > mean) ctx.buy({ qty: 1, type: "market" });
    else if (long && bar.close < mean) ctx.sell({ qty: ctx.position.qty, type: "market" });
  },
};
`;
