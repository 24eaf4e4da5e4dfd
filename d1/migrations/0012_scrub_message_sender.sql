-- An admin's message used to tell every recipient which admin sent it (`data.from`, a user
-- id); since 6 December it does not (the audit log keeps the sender). Messages stored
-- before then lose it too, as do webhook deliveries of them not yet sent. Delivered ones
-- keep the exact body that was sent.
UPDATE `notifications` SET `data` = json_remove(`data`, '$.from') WHERE `kind` = 'admin.message' AND json_type(`data`, '$.from') IS NOT NULL;
--> statement-breakpoint
UPDATE `webhook_deliveries` SET `payload` = json_remove(`payload`, '$.data.from') WHERE `event_type` = 'admin.message' AND `status` IN ('pending', 'failing') AND json_type(`payload`, '$.data.from') IS NOT NULL;
