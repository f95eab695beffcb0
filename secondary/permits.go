package secondary

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"time"

	carnet "github.com/carnet-sante/carnet"
)

// Service is secondary use: the permits, the export, the statistics. Its
// parts are the same as record.Service's; Permits is the Store's
// carnet.PermitStore.
type Service struct {
	Store   carnet.Store
	Permits carnet.PermitStore
	Sealer  carnet.Sealer
	Audit   carnet.Auditor
	Clock   carnet.Clock
	Logger  *slog.Logger
}

func (s *Service) now() time.Time {
	if s.Clock == nil {
		return time.Now().UTC()
	}
	return s.Clock.Now().UTC()
}

func (s *Service) log() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// ScopePrefix begins the scope that names a permit: "permit/<id>".
const ScopePrefix = "permit/"

func (s *Service) seal(ctx context.Context, p carnet.Permit) (carnet.PermitRow, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return carnet.PermitRow{}, carnet.WrapError(carnet.KindInternal, "seal permit", err)
	}
	sealed, err := s.Sealer.Seal(ctx, carnet.PermitKeyRecord, carnet.Binding{Kind: "permit", ID: p.ID, Version: p.Version}, b)
	if err != nil {
		return carnet.PermitRow{}, err
	}
	return carnet.PermitRow{ID: p.ID, Version: p.Version, Sealed: sealed, Created: p.Created}, nil
}

func (s *Service) open(ctx context.Context, row carnet.PermitRow) (carnet.Permit, error) {
	b, err := s.Sealer.Open(ctx, carnet.PermitKeyRecord, carnet.Binding{Kind: "permit", ID: row.ID, Version: row.Version}, row.Sealed)
	if err != nil {
		return carnet.Permit{}, err
	}
	var p carnet.Permit
	if err := json.Unmarshal(b, &p); err != nil {
		return carnet.Permit{}, carnet.WrapError(carnet.KindInternal, "open permit", err)
	}
	if p.ID != row.ID || p.Version != row.Version {
		return carnet.Permit{}, carnet.Errorf(carnet.KindInternal, "permit %s does not match its row", row.ID)
	}
	return p, nil
}

// auditPermit records a use of the permits in the reserved audit record
// (the events that name no patient): who, which permit, what.
func (s *Service) auditPermit(ctx context.Context, r carnet.Request, act carnet.Action, permitID, outcome string, detail ...string) error {
	ev := carnet.AuditEvent{Time: s.now(), RequestID: r.RequestID, Actor: r.Actor, Action: act, Mode: carnet.ModeNormal,
		Documents: []string{"Permit/" + permitID}, Outcome: outcome, Detail: detail}
	if err := s.Audit.Record(ctx, ev); err != nil {
		return carnet.WrapError(carnet.KindUnavailable, "audit", err)
	}
	return nil
}

func operatorOnly(a carnet.Actor) error {
	if a.Kind != carnet.ActorSystem || !a.Operator {
		return &carnet.Error{Kind: carnet.KindForbidden, Msg: "data permits are managed by the operator only"}
	}
	return nil
}

// CreatePermit checks and stores a new permit with a fresh secret. Zero
// fields take their defaults: k 5, dates shifted by up to 180 days,
// narrative removed.
func (s *Service) CreatePermit(ctx context.Context, r carnet.Request, p carnet.Permit) (carnet.Permit, error) {
	if err := operatorOnly(r.Actor); err != nil {
		return carnet.Permit{}, err
	}
	if p.MinK == 0 {
		p.MinK = 5
	}
	if p.Issuer == "" {
		// The recipient's client is registered where the operator's is,
		// unless the operator names another issuer.
		p.Issuer = r.Actor.ID.System
	}
	if p.Dates == "" {
		p.Dates = carnet.DatesShift
	}
	if p.Dates == carnet.DatesShift && p.ShiftDays == 0 {
		p.ShiftDays = 180
	}
	if p.Narrative == "" {
		p.Narrative = carnet.NarrativeRemove
	}
	if issues := p.Check(); len(issues) > 0 {
		return carnet.Permit{}, &carnet.Error{Kind: carnet.KindUnprocessable, Msg: "the permit is not valid", Issues: issues}
	}
	p.ID, p.Version, p.Created, p.CreatedBy = carnet.NewID(), 1, s.now().Truncate(time.Microsecond), r.Actor.ID.Value
	p.EpsilonSpent, p.Revoked = 0, time.Time{}
	p.Secret = make([]byte, 32)
	if _, err := rand.Read(p.Secret); err != nil {
		return carnet.Permit{}, carnet.WrapError(carnet.KindInternal, "permit secret", err)
	}
	row, err := s.seal(ctx, p)
	if err != nil {
		return carnet.Permit{}, err
	}
	if err := s.Permits.PutPermit(ctx, row); err != nil {
		return carnet.Permit{}, err
	}
	return p, s.auditPermit(ctx, r, carnet.ActionCreate, p.ID, carnet.OutcomeSuccess, "permit created: "+p.Purpose)
}

// Permit returns a permit for the operator.
func (s *Service) Permit(ctx context.Context, r carnet.Request, id string) (carnet.Permit, error) {
	if err := operatorOnly(r.Actor); err != nil {
		return carnet.Permit{}, err
	}
	p, err := s.load(ctx, id)
	if err != nil {
		return carnet.Permit{}, err
	}
	return p, s.auditPermit(ctx, r, carnet.ActionRead, id, carnet.OutcomeSuccess)
}

// ListPermits returns every permit, oldest first, for the operator.
func (s *Service) ListPermits(ctx context.Context, r carnet.Request) ([]carnet.Permit, error) {
	if err := operatorOnly(r.Actor); err != nil {
		return nil, err
	}
	rows, err := s.Permits.Permits(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]carnet.Permit, 0, len(rows))
	for _, row := range rows {
		p, err := s.open(ctx, row)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, s.auditPermit(ctx, r, carnet.ActionSearch, "*", carnet.OutcomeSuccess)
}

func (s *Service) load(ctx context.Context, id string) (carnet.Permit, error) {
	row, err := s.Permits.Permit(ctx, id)
	if err != nil {
		return carnet.Permit{}, err
	}
	return s.open(ctx, row)
}

// change applies fn to the stored permit, retrying when another change
// came first (compare-and-set on the version).
func (s *Service) change(ctx context.Context, id string, fn func(p *carnet.Permit) error) (carnet.Permit, error) {
	for attempt := 0; ; attempt++ {
		p, err := s.load(ctx, id)
		if err != nil {
			return carnet.Permit{}, err
		}
		if err := fn(&p); err != nil {
			return carnet.Permit{}, err
		}
		p.Version++
		row, err := s.seal(ctx, p)
		if err != nil {
			return carnet.Permit{}, err
		}
		err = s.Permits.PutPermit(ctx, row)
		if err == nil || !carnet.IsKind(err, carnet.KindConflict) || attempt == 20 {
			return p, err
		}
	}
}

// RevokePermit ends a permit now: nothing runs under it any more, running
// exports stop at their next record.
func (s *Service) RevokePermit(ctx context.Context, r carnet.Request, id string) error {
	if err := operatorOnly(r.Actor); err != nil {
		return err
	}
	now := s.now()
	if _, err := s.change(ctx, id, func(p *carnet.Permit) error {
		if p.Revoked.IsZero() {
			p.Revoked = now
		}
		return nil
	}); err != nil {
		return err
	}
	return s.auditPermit(ctx, r, carnet.ActionDelete, id, carnet.OutcomeSuccess, "permit revoked")
}

// PermitOf returns the permit a request is made under: the one its
// permit/<id> scope names (id, when given, must be it), held by the
// permit's client, valid now. Another client, or an unknown permit, is
// answered as not found; an expired or revoked one as forbidden, saying
// so (its holder knows it).
func (s *Service) PermitOf(ctx context.Context, r carnet.Request, id string) (carnet.Permit, error) {
	a := r.Actor
	var named []string
	for _, sc := range a.Scopes {
		if rest, ok := strings.CutPrefix(sc, ScopePrefix); ok && rest != "" {
			named = append(named, rest)
		}
	}
	notFound := &carnet.Error{Kind: carnet.KindNotFound, Msg: "no data permit of this client by that id"}
	if a.Kind != carnet.ActorSystem || len(named) == 0 {
		return carnet.Permit{}, &carnet.Error{Kind: carnet.KindForbidden, Msg: "secondary use needs a client-credentials token with a permit/<id> scope"}
	}
	switch {
	case id == "" && len(named) > 1:
		return carnet.Permit{}, carnet.Errorf(carnet.KindInvalid, "the token names several permits: export at Group/<permit id>/$export")
	case id == "":
		id = named[0]
	case !slices.Contains(named, id):
		return carnet.Permit{}, notFound
	}
	p, err := s.load(ctx, id)
	if carnet.IsKind(err, carnet.KindNotFound) || err == nil && (p.Client != a.ID.Value || p.Issuer != "" && p.Issuer != a.ID.System) {
		return carnet.Permit{}, notFound
	}
	if err != nil {
		return carnet.Permit{}, err
	}
	if why := p.Valid(s.now()); why != "" {
		_ = s.auditPermit(ctx, r, carnet.ActionSecondaryUse, id, carnet.OutcomeDenied, why)
		return carnet.Permit{}, &carnet.Error{Kind: carnet.KindForbidden, Msg: why}
	}
	return p, nil
}

// Still reports whether permit id is still valid now (exports check it at
// each record, downloads before serving).
func (s *Service) Still(ctx context.Context, id string) error {
	p, err := s.load(ctx, id)
	if err != nil {
		return err
	}
	if why := p.Valid(s.now()); why != "" {
		return &carnet.Error{Kind: carnet.KindForbidden, Msg: why}
	}
	return nil
}

// AuditUse records a use of a permit by its holder (kick-off, status,
// download, cancel) in the reserved audit record.
func (s *Service) AuditUse(ctx context.Context, r carnet.Request, permitID string, detail ...string) error {
	return s.auditPermit(ctx, r, carnet.ActionSecondaryUse, permitID, carnet.OutcomeSuccess, detail...)
}

// spend takes eps from a permit's privacy budget, refusing when what is
// left cannot cover it. Concurrent requests cannot both take the last of
// it (compare-and-set).
func (s *Service) spend(ctx context.Context, id string, eps float64) (left float64, err error) {
	p, err := s.change(ctx, id, func(p *carnet.Permit) error {
		if p.Epsilon <= 0 {
			return &carnet.Error{Kind: carnet.KindForbidden, Msg: "this permit grants no statistics (no privacy budget)"}
		}
		if p.EpsilonSpent+eps > p.Epsilon+1e-12 {
			return carnet.Errorf(carnet.KindForbidden, "the permit's privacy budget is spent: %.4g of %.4g left, %.4g asked", p.Epsilon-p.EpsilonSpent, p.Epsilon, eps)
		}
		p.EpsilonSpent += eps
		return nil
	})
	if err != nil {
		return 0, err
	}
	return p.Epsilon - p.EpsilonSpent, nil
}
