// expand.mjs prints, as JSON, every occurrence of every event of the
// iCalendar file named by its argument as ical.js expands it: the event's
// UID, the start's TZID as ical.js resolved it, start and end as Unix
// seconds, and the start's local wall time. ical.js converts local times
// with the VTIMEZONEs of the file itself (it has no zone database of its
// own), so the instants check those VTIMEZONEs as well as the RRULEs.
import { readFileSync } from 'node:fs';
import ICAL from 'ical.js';

// maxOccurrences bounds one event's expansion: a rule that never ends
// must not make the check run forever.
const maxOccurrences = 1000;

const calendar = new ICAL.Component(ICAL.parse(readFileSync(process.argv[2], 'utf8')));
const out = [];
for (const vevent of calendar.getAllSubcomponents('vevent')) {
  const event = new ICAL.Event(vevent);
  const it = event.iterator();
  for (let next = it.next(), n = 0; next && n < maxOccurrences; next = it.next(), n++) {
    const o = event.getOccurrenceDetails(next);
    out.push({
      uid: event.uid,
      tzid: o.startDate.zone.tzid,
      start: o.startDate.toUnixTime(),
      end: o.endDate.toUnixTime(),
      local: o.startDate.toString(),
    });
  }
}
process.stdout.write(JSON.stringify(out) + '\n');
