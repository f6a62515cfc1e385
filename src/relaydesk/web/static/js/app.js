// The page's entry point: /host is the organizer's console, every other address the join
// page; both lead into the same meeting view (meeting.js).

import { startJoinPage } from "./join.js";
import { startOrganizer } from "./organizer.js";

if (location.pathname.replace(/\/+$/, "") === "/host") startOrganizer();
else startJoinPage();
