// The controls of OpenOVC's own API (/_openovc), one panel each, shown in this order on the Controls page.
// A panel is {id, title, render(ctx) -> element}; ctx.isAdmin says whether it may change state.

import { clockPanel } from "./clock.js";
import { faultsPanel } from "./faults.js";
import { pacingPanel } from "./pacing.js";
import { snapshotsPanel } from "./snapshots.js";

export const PANELS = [clockPanel, snapshotsPanel, faultsPanel, pacingPanel];
