import { logger } from "../../platform/log";

const log = logger("queue");

/** Domain events the consumer gave up on (after max_retries): logged and acknowledged, so the dead-letter queue drains. */
export async function consumeDeadEvents(batch: MessageBatch<unknown>, _env: Env): Promise<void> {
  for (const message of batch.messages) {
    log("error", "event dead-lettered", { queue: batch.queue, messageId: message.id, attempts: message.attempts });
    message.ack();
  }
}
