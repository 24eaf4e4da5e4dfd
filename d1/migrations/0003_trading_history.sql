CREATE TABLE `fill_history` (
	`execution_id` text PRIMARY KEY NOT NULL,
	`order_id` text NOT NULL,
	`user_id` text NOT NULL,
	`symbol` text NOT NULL,
	`side` text NOT NULL,
	`price` text NOT NULL,
	`qty` text NOT NULL,
	`fee` text NOT NULL,
	`realized_pl` text NOT NULL,
	`occurred_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `fill_history_user_idx` ON `fill_history` (`user_id`,`occurred_at`);--> statement-breakpoint
CREATE TABLE `order_history` (
	`order_id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`symbol` text NOT NULL,
	`side` text NOT NULL,
	`status` text NOT NULL,
	`version` integer NOT NULL,
	`last_event_at` text NOT NULL,
	`data` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `order_history_user_idx` ON `order_history` (`user_id`,`last_event_at`);