CREATE TABLE `backtests` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`strategy_id` text,
	`strategy_version` integer,
	`kind` text NOT NULL,
	`template` text,
	`symbol` text NOT NULL,
	`timeframe` text NOT NULL,
	`params` text NOT NULL,
	`status` text DEFAULT 'queued' NOT NULL,
	`bars_total` integer DEFAULT 0 NOT NULL,
	`bars_done` integer DEFAULT 0 NOT NULL,
	`error` text,
	`metrics` text,
	`optimization_id` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`finished_at` integer,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `backtests_user_idx` ON `backtests` (`user_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `strategies` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`template` text,
	`symbol` text NOT NULL,
	`timeframe` text NOT NULL,
	`params` text NOT NULL,
	`current_version` integer NOT NULL,
	`status` text DEFAULT 'stopped' NOT NULL,
	`status_message` text,
	`running_version` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `strategies_user_name_idx` ON `strategies` (`user_id`,`name`);--> statement-breakpoint
CREATE INDEX `strategies_user_idx` ON `strategies` (`user_id`);--> statement-breakpoint
CREATE TABLE `strategy_versions` (
	`strategy_id` text NOT NULL,
	`version` integer NOT NULL,
	`template` text,
	`params` text NOT NULL,
	`source` text,
	`compiled` text,
	`language` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	PRIMARY KEY(`strategy_id`, `version`),
	FOREIGN KEY (`strategy_id`) REFERENCES `strategies`(`id`) ON UPDATE no action ON DELETE cascade
);
