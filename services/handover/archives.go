package handover

// Archives per material (issue 15): a dossier arrives, or does not, and
// each material an enterprise retiree's file must hold that is missing
// needs its own written explanation; the archivist signs for each
// dossier, and a dossier that arrives goes into the archivist's custody
// (custody.go) in the same transaction.

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// ReasonDossierInCustody: a receipt would mark missing a dossier that was
// received and is in the archivist's custody.
const ReasonDossierInCustody = "DOSSIER_IN_CUSTODY"

// everyFile are the materials every enterprise retiree's file must hold
// (DOMAIN.md, Handover): résumé, autobiography, appraisals, education and
// titles, and the wage, appointment and transfer records.
var everyFile = []pb.ArchiveCategory{
	pb.ArchiveCategory_RESUME, pb.ArchiveCategory_AUTOBIOGRAPHY, pb.ArchiveCategory_APPRAISAL,
	pb.ArchiveCategory_EDUCATION_TITLES, pb.ArchiveCategory_WAGES_APPOINTMENTS,
}

// requiredMaterials returns the categories d's file must hold: those of
// every file, and the party and league records of a party member. The
// handover does not yet say who is a party member (the party track
// does); until it does, callers pass false.
func requiredMaterials(_ *pb.Dossier, partyMember bool) []pb.ArchiveCategory {
	if partyMember {
		return append(slices.Clone(everyFile), pb.ArchiveCategory_PARTY_LEAGUE)
	}
	return everyFile
}

// unexplainedMaterials returns the required materials of d that are
// missing without a written explanation: for a received dossier those
// its checklist lacks or the receipt found missing, for a missing one all
// of them. A missing dossier's one explanation (MissingDossier's, or one
// stored before materials were explained one by one) stands for the
// explanation of every required material that has none of its own. A
// dossier not yet received or explained lacks all of them.
func unexplainedMaterials(d *pb.Dossier) []pb.ArchiveCategory {
	// By category: the enum is small and dense, and this runs for every
	// dossier at every step (the archives track).
	var found, explained [maxChecklist + 1]bool
	for _, m := range d.MissingMaterials {
		if c := int(m.Category); c > 0 && c <= maxChecklist {
			found[c], explained[c] = true, m.Explanation != ""
		}
	}
	var out []pb.ArchiveCategory
	for _, c := range requiredMaterials(d, false) {
		switch d.State {
		case pb.Dossier_RECEIVED:
			if (found[c] || !slices.Contains(d.Checklist, c)) && !explained[c] {
				out = append(out, c)
			}
		case pb.Dossier_MISSING:
			if !explained[c] && (found[c] || d.Explanation == "") {
				out = append(out, c)
			}
		default:
			out = append(out, c)
		}
	}
	return out
}

// dossierSettled reports whether d no longer stands in the way of the
// archives track: received with every missing required material
// explained, or missing with every material explained.
func dossierSettled(d *pb.Dossier) bool {
	return (d.State == pb.Dossier_RECEIVED || d.State == pb.Dossier_MISSING) && len(unexplainedMaterials(d)) == 0
}

// archiveReceipt is a validated ReceiveArchives request.
type archiveReceipt struct {
	// received are dossiers that arrived, named the old way: no volumes
	// and no materials found missing beyond what the checklist lacks.
	received []string
	missing  []*pb.MissingDossier
	dossiers []*pb.DossierReceipt
}

// size is the number of dossiers the receipt names.
func (r archiveReceipt) size() int { return len(r.received) + len(r.missing) + len(r.dossiers) }

// checkArchives validates what a ReceiveArchives names: each retiree
// once, explanations and categories well-formed, and at least one
// dossier. A missing dossier needs its one explanation or materials
// explained one by one.
func checkArchives(r archiveReceipt) error {
	var v fault.Violations
	switch {
	case r.size() == 0:
		v.Add("received", "name at least one dossier received or missing")
	case r.size() > MaxRetirees:
		v.Addf("received", "at most %d dossiers per call", MaxRetirees)
		return v.Err()
	}
	seen := make(retireeSet, r.size())
	for i, id := range r.received {
		seen.check(&v, fmt.Sprintf("received[%d]", i), id, "named twice")
	}
	for i, m := range r.missing {
		field := fmt.Sprintf("missing[%d]", i)
		if m == nil {
			v.Add(field, "required")
			continue
		}
		seen.check(&v, field+".retireeId", m.RetireeId, "named twice")
		inputcheck.Text(&v, field+".explanation", m.Explanation, len(m.MissingMaterials) == 0, maxReasonLen)
		checkMaterials(&v, field+".missingMaterials", m.MissingMaterials)
	}
	for i, d := range r.dossiers {
		field := fmt.Sprintf("dossiers[%d]", i)
		if d == nil {
			v.Add(field, "required")
			continue
		}
		seen.check(&v, field+".retireeId", d.RetireeId, "named twice")
		if d.VolumesReceived < 0 || d.VolumesReceived > maxVolumes {
			v.Addf(field+".volumesReceived", "must be between 0 (the dossier's volumes) and %d", maxVolumes)
		}
		checkMaterials(&v, field+".missingMaterials", d.MissingMaterials)
	}
	return v.Err()
}

// checkMaterials validates the materials found missing in one dossier:
// known categories, each once, explanations short single lines (empty
// while awaited).
func checkMaterials(v *fault.Violations, field string, ms []*pb.MissingMaterial) {
	if len(ms) > maxChecklist {
		v.Addf(field, "at most %d categories", maxChecklist)
		return
	}
	seen := make(map[pb.ArchiveCategory]bool, len(ms))
	for j, m := range ms {
		f := fmt.Sprintf("%s[%d]", field, j)
		switch {
		case m == nil:
			v.Add(f, "required")
			continue
		case m.Category == pb.ArchiveCategory_ARCHIVE_CATEGORY_UNSPECIFIED || pb.ArchiveCategory_name[int32(m.Category)] == "":
			v.Add(f+".category", "unknown archive category")
		case seen[m.Category]:
			v.Add(f+".category", "named twice")
		}
		seen[m.Category] = true
		inputcheck.Text(v, f+".explanation", m.Explanation, false, maxReasonLen)
	}
}

// receiveArchives records a receipt of h's dossiers, signed by actor:
// dossiers that arrived, with the materials found missing, go into the
// archivist's custody on their first arrival; missing ones are explained.
// Each retiree named must have a dossier in the package, and a dossier
// in custody cannot turn missing.
func (w *txn) receiveArchives(h *pb.Handover, r archiveReceipt, actor Actor) (string, error) {
	if err := requireState(h, "receiving archives", pb.Handover_SUBMITTED); err != nil {
		return "", err
	}
	byRetiree := make(map[string]*pb.Dossier, len(h.Dossiers))
	for _, d := range h.Dossiers {
		byRetiree[d.RetireeId] = d
	}
	if err := checkReceiptTargets(byRetiree, r); err != nil {
		return "", err
	}
	arrived := make([]*pb.DossierReceipt, 0, len(r.received)+len(r.dossiers))
	for _, id := range r.received {
		arrived = append(arrived, &pb.DossierReceipt{RetireeId: id})
	}
	arrived = append(arrived, r.dossiers...)
	filed := 0
	for _, dr := range arrived {
		d := byRetiree[dr.RetireeId]
		if d.State != pb.Dossier_RECEIVED {
			if err := w.takeIntoCustody(h, d, volumesOf(d, dr), actor); err != nil {
				return "", err
			}
			filed++
		}
		arrive(d, dr)
		w.sign(d, actor)
	}
	for _, m := range r.missing {
		d := byRetiree[m.RetireeId]
		d.State, d.Explanation, d.VolumesReceived = pb.Dossier_MISSING, m.Explanation, 0
		d.MissingMaterials = mergeMaterials(d.MissingMaterials, m.MissingMaterials)
		noteMissingRequired(d)
		w.sign(d, actor)
	}
	return receiptSummary(h, len(arrived), len(r.missing), filed), nil
}

// arrive records d as received as dr says. A dossier explained as
// missing before sheds what was said of it then: what it lacks now is
// what its checklist and this receipt say.
func arrive(d *pb.Dossier, dr *pb.DossierReceipt) {
	if d.State == pb.Dossier_MISSING {
		d.MissingMaterials = nil
	}
	d.VolumesReceived = volumesOf(d, dr)
	d.State, d.Explanation = pb.Dossier_RECEIVED, ""
	d.MissingMaterials = mergeMaterials(d.MissingMaterials, dr.MissingMaterials)
	noteMissingRequired(d)
}

// checkReceiptTargets fails unless every retiree a receipt names has a
// dossier in the package, and none it names missing is in custody.
func checkReceiptTargets(byRetiree map[string]*pb.Dossier, r archiveReceipt) error {
	var v fault.Violations
	for i, id := range r.received {
		if byRetiree[id] == nil {
			v.Add(fmt.Sprintf("received[%d]", i), "no dossier for this retiree in the package")
		}
	}
	for i, d := range r.dossiers {
		if byRetiree[d.RetireeId] == nil {
			v.Add(fmt.Sprintf("dossiers[%d].retireeId", i), "no dossier for this retiree in the package")
		}
	}
	for i, m := range r.missing {
		if byRetiree[m.RetireeId] == nil {
			v.Add(fmt.Sprintf("missing[%d].retireeId", i), "no dossier for this retiree in the package")
		}
	}
	if err := v.Err(); err != nil {
		return err
	}
	for i, m := range r.missing {
		if byRetiree[m.RetireeId].State == pb.Dossier_RECEIVED {
			return fault.Rule(ReasonDossierInCustody,
				fmt.Sprintf("missing[%d]: the dossier was received and is in the archivist's custody", i))
		}
	}
	return nil
}

// volumesOf is the volumes that arrived of d: as the receipt says, else
// as recorded before, else the dossier's.
func volumesOf(d *pb.Dossier, r *pb.DossierReceipt) int32 {
	switch {
	case r.VolumesReceived > 0:
		return r.VolumesReceived
	case d.VolumesReceived > 0:
		return d.VolumesReceived
	}
	return d.Volumes
}

// mergeMaterials returns old with the materials of in: a category named
// again takes its new explanation unless that is empty, and the list
// stays in category order.
func mergeMaterials(old, in []*pb.MissingMaterial) []*pb.MissingMaterial {
	out := cloneAll(old)
	for _, m := range in {
		i := slices.IndexFunc(out, func(o *pb.MissingMaterial) bool { return o.Category == m.Category })
		switch {
		case i < 0:
			out = append(out, &pb.MissingMaterial{Category: m.Category, Explanation: m.Explanation})
		case m.Explanation != "":
			out[i].Explanation = m.Explanation
		}
	}
	slices.SortFunc(out, func(a, b *pb.MissingMaterial) int { return int(a.Category - b.Category) })
	return out
}

// noteMissingRequired lists on d each required material it lacks (all
// of them for a missing dossier) that no receipt named: a missing
// dossier's one explanation becomes the explanation of each that has
// none of its own; a received dossier's wait for theirs.
func noteMissingRequired(d *pb.Dossier) {
	for _, c := range requiredMaterials(d, false) {
		if d.State == pb.Dossier_RECEIVED && slices.Contains(d.Checklist, c) {
			continue
		}
		i := slices.IndexFunc(d.MissingMaterials, func(m *pb.MissingMaterial) bool { return m.Category == c })
		switch {
		case i < 0:
			d.MissingMaterials = append(d.MissingMaterials, &pb.MissingMaterial{Category: c, Explanation: d.Explanation})
		case d.MissingMaterials[i].Explanation == "":
			d.MissingMaterials[i].Explanation = d.Explanation
		}
	}
	slices.SortFunc(d.MissingMaterials, func(a, b *pb.MissingMaterial) int { return int(a.Category - b.Category) })
}

// sign records actor's signature for d at this receipt.
func (w *txn) sign(d *pb.Dossier, actor Actor) {
	d.ReceivedBy, d.ReceiveTime = actor.Subject, timestamppb.New(w.now)
}

// receiptSummary is the timeline's detail of a receipt: counts only,
// never whose dossier.
func receiptSummary(h *pb.Handover, arrived, missing, filed int) string {
	var got, lacking, settled, unexplained int
	for _, d := range h.Dossiers {
		switch d.State {
		case pb.Dossier_RECEIVED:
			got++
		case pb.Dossier_MISSING:
			lacking++
		}
		if dossierSettled(d) {
			settled++
		}
		if d.State != pb.Dossier_PENDING {
			unexplained += len(unexplainedMaterials(d))
		}
	}
	return fmt.Sprintf("%d dossiers received (%d into custody), %d missing; in all %d received, %d missing, %d pending; %d settled, %d missing materials unexplained",
		arrived, filed, missing, got, lacking, len(h.Dossiers)-got-lacking, settled, unexplained)
}

// clearReceipt clears what receipts recorded on d: a new draft's dossier
// has had none.
func clearReceipt(d *pb.Dossier) {
	d.State, d.Explanation = pb.Dossier_PENDING, ""
	d.MissingMaterials, d.ReceivedBy, d.ReceiveTime, d.VolumesReceived, d.ArchiveFileId = nil, "", nil, 0, ""
}

// keepReceipt copies to d what receipts recorded on old, the same
// dossier before an edit of its package.
func keepReceipt(d, old *pb.Dossier) {
	d.State, d.Explanation = old.State, old.Explanation
	d.MissingMaterials, d.ReceivedBy, d.ReceiveTime = cloneAll(old.MissingMaterials), old.ReceivedBy, old.ReceiveTime
	d.VolumesReceived, d.ArchiveFileId = old.VolumesReceived, old.ArchiveFileId
}

// unsettledDossier says what an unsettled dossier still lacks, as the
// completion's violation describes it.
func unsettledDossier(d *pb.Dossier) string {
	if d.State != pb.Dossier_RECEIVED && d.State != pb.Dossier_MISSING {
		return "neither received nor explained as missing"
	}
	names := make([]string, 0, len(everyFile)+1)
	for _, c := range unexplainedMaterials(d) {
		names = append(names, c.String())
	}
	return "missing materials without a written explanation: " + strings.Join(names, ", ")
}

// inCustody lists the retirees of h whose dossier is a file in the
// archivist's custody.
func inCustody(h *pb.Handover) map[string]bool {
	out := map[string]bool{}
	for _, d := range h.Dossiers {
		if d.ArchiveFileId != "" {
			out[d.RetireeId] = true
		}
	}
	return out
}

// checkCustodyKept refuses an edit of a returned package that would
// orphan a file in custody: the retiree taken out, its dossier dropped or
// given another number (which would file it a second time).
func checkCustodyKept(before map[string]bool, h *pb.Handover) error {
	after := inCustody(h)
	for id := range before {
		if !after[id] {
			return fault.Rule(ReasonDossierInCustody,
				"a retiree whose dossier is in the archivist's custody cannot leave the package, nor its dossier change number",
				"retireeId", id)
		}
	}
	return nil
}
