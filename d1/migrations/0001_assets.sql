CREATE TABLE `assets` (
	`id` text PRIMARY KEY NOT NULL,
	`symbol` text NOT NULL,
	`name` text NOT NULL,
	`class` text NOT NULL,
	`exchange` text NOT NULL,
	`tick_size` text NOT NULL,
	`lot_size` text NOT NULL,
	`min_order_size` text NOT NULL,
	`tradable` integer DEFAULT true NOT NULL,
	`status` text DEFAULT 'active' NOT NULL,
	`session` text,
	`feed` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `assets_symbol_unique` ON `assets` (`symbol`);