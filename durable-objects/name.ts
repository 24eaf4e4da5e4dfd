/**
 * The name an object is addressed by (`getByName`). Local workerd wakes an object for an
 * overdue alarm after a restart without its name (workerd#6850), so the name is kept in
 * the object's storage the first time it is seen and read back when the id lacks it.
 */
export function objectName(ctx: DurableObjectState): string | undefined {
  const kv = ctx.storage.kv;
  const name = ctx.id.name;
  if (name === undefined) return kv.get<string>("object-name");
  if (kv.get<string>("object-name") !== name) kv.put("object-name", name);
  return name;
}
