CREATE TABLE `dead_events` (
	`message_id` text PRIMARY KEY NOT NULL,
	`queue` text NOT NULL,
	`event_type` text,
	`event_id` text,
	`events` integer NOT NULL,
	`body` text NOT NULL,
	`attempts` integer NOT NULL,
	`dead_at` integer NOT NULL,
	`replayed_at` integer
);
--> statement-breakpoint
CREATE INDEX `dead_events_dead_at_idx` ON `dead_events` (`dead_at`,`message_id`);