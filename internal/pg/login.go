package pg

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"maps"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/motorpool/motorpool/internal/proxy"
)

// login routes and authenticates the client, opens its session and sends it what
// PostgreSQL sends after authentication: ParameterStatus, BackendKeyData and
// ReadyForQuery.
//
// Authentication must end within LoginTimeout of now. What follows may wait for a
// server connection (the first client of a pool, or any in session mode) for as long
// as the pool's pool_timeout allows, with LoginTimeout more for the server's answer.
func (a *Adapter) login(serveCtx context.Context, r *relay, c *proxy.Client, sp *startupParams) (*proxy.Session, error) {
	ctx, cancel := context.WithTimeout(serveCtx, a.cfg.LoginTimeout)
	defer cancel()
	user, database := sp.params["user"], sp.params["database"]
	if sp.minor > 0 || len(sp.protocolOptions) > 0 {
		r.write(negotiateProtocol(sp))
	}
	if err := sp.checkReplication(); err != nil {
		return nil, err
	}
	wanted, err := sp.sessionSettings()
	if err != nil {
		return nil, err
	}
	route, err := c.Route(proxy.RouteRequest{Database: database, User: user, Application: wanted["application_name"]})
	if errors.Is(err, proxy.ErrUnknownDatabase) || errors.Is(err, proxy.ErrNotAdmin) {
		// PostgreSQL authenticates first: only a client that knows a password learns
		// that the database does not exist, or that the user may not use the console
		// (which would otherwise tell admin users from others without a password).
		if err := r.authenticate(ctx, user, c.UserCredentials(user)); err != nil {
			return nil, err
		}
		r.write(authOKMsg)
	}
	if err != nil {
		return nil, a.routeError(err, database)
	}
	if err := r.authenticate(ctx, user, route.Credentials); err != nil {
		return nil, err
	}
	r.write(authOKMsg)
	if route.Console != nil {
		route.OpenConsole()
		return nil, errConsole{route.Console, user}
	}

	sess, err := route.Open(c)
	if err != nil {
		return nil, a.routeError(err, database)
	}
	r.sess = sess
	r.mapStmts = sess.Mode() != proxy.ModeSession && sess.Pool().Settings().PreparedStatements
	wait := a.cfg.LoginTimeout + max(sess.Pool().Settings().PoolTimeout, 0)
	startCtx, cancelStart := context.WithTimeout(serveCtx, wait)
	defer cancelStart()
	r.conn.SetDeadline(time.Now().Add(wait))
	params, err := a.start(startCtx, r, sess, wanted)
	if err != nil {
		sess.Close()
		return nil, err
	}
	out := make([]byte, 0, 512)
	for _, k := range sortedKeys(params) {
		out, _ = (&pgproto3.ParameterStatus{Name: k, Value: params[k]}).Encode(out)
	}
	key := a.register(r, sess)
	out = appendMsg(out, msgBackendKeyData, binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, key.pid), key.secret))
	out = append(out, readyIdle...)
	r.write(out)
	return sess, nil
}

// errConsole ends login for an admin console session, which Serve then runs.
type errConsole struct {
	console proxy.Console
	user    string
}

func (errConsole) Error() string { return "admin console session" }

var authOKMsg = appendMsg(nil, msgAuthentication, []byte{0, 0, 0, 0})

// start brings the session to life: it learns the pool's server parameters, checks the
// client's settings on a server connection unless they are known to be valid, and in
// session mode binds the client's server connection. It returns the ParameterStatus
// values to report.
func (a *Adapter) start(ctx context.Context, r *relay, sess *proxy.Session, wanted map[string]string) (map[string]string, error) {
	pool := sess.Pool()
	info := poolInfoOf(pool)
	base, err := info.baseline(ctx, sess)
	if err != nil {
		return nil, a.loginError(err)
	}
	// Startup parameter names are lower-cased; PostgreSQL reports some in mixed case
	// (TimeZone, DateStyle, IntervalStyle).
	reported := make(map[string]string, len(base))
	for k := range base {
		reported[strings.ToLower(k)] = k
	}
	for k, v := range wanted {
		r.settings.set(k, setting{value: v}, base[reported[k]])
	}
	r.startup.copyFrom(&r.settings)
	report := maps.Clone(base)
	known, ok := info.validated(r.settings.fingerprint)
	if ok && sess.Mode() != proxy.ModeSession {
		maps.Copy(report, known)
		return report, nil
	}
	// Bind now: to check the settings (PostgreSQL refuses a bad one at login) and read
	// their normalised values, and in session mode for good.
	probe := &stmtNote{kind: noteProbe, params: make(map[string]string), done: make(chan struct{})}
	for _, k := range sortedKeys(wanted) {
		if name, ok := reported[k]; ok {
			probe.keys = append(probe.keys, name)
		}
	}
	r.probe = probe
	sc, err := r.bind(ctx)
	if err != nil {
		return nil, a.loginError(err)
	}
	if sess.Mode() == proxy.ModeSession {
		r.sessionPID = sc.pid
	}
	select {
	case <-probe.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if probe.err != nil {
		return nil, probe.err
	}
	info.remember(r.settings.fingerprint, probe.params)
	maps.Copy(report, probe.params)
	return report, nil
}

// cancelKey is the BackendKeyData motorpool gives a client.
type cancelKey struct {
	pid    uint32
	secret uint32
}

// register gives the client its BackendKeyData: in session mode the real server
// process ID (clients run pg_terminate_backend on it) with motorpool's own secret, so
// cancel requests still come through motorpool.
func (a *Adapter) register(r *relay, sess *proxy.Session) cancelKey {
	var b [4]byte
	rand.Read(b[:])
	key := cancelKey{pid: r.sessionPID, secret: binary.BigEndian.Uint32(b[:])}
	if key.pid == 0 {
		key.pid = a.nextPID.Add(1)
	}
	a.cancelMu.Lock()
	a.cancels[key] = r
	a.cancelMu.Unlock()
	r.key = key
	return key
}

func (a *Adapter) unregister(r *relay) {
	a.cancelMu.Lock()
	if a.cancels[r.key] == r {
		delete(a.cancels, r.key)
	}
	a.cancelMu.Unlock()
}

// routeError turns a routing refusal into what PostgreSQL would say.
func (a *Adapter) routeError(err error, database string) error {
	switch {
	case errors.Is(err, proxy.ErrUnknownDatabase):
		return &Error{Severity: "FATAL", Code: CodeInvalidCatalogName, Message: "database \"" + database + "\" does not exist", Err: err}
	case errors.Is(err, proxy.ErrTooManyClients):
		return &Error{Severity: "FATAL", Code: CodeTooManyConnections, Message: "sorry, too many clients already", Err: err}
	case errors.Is(err, proxy.ErrNotAdmin):
		return &Error{Severity: "FATAL", Code: CodeInvalidAuthorization, Message: "not allowed: this user may not use the admin console", Err: err}
	case errors.Is(err, proxy.ErrDatabaseDisabled):
		// PostgreSQL's words for a database with ALLOW_CONNECTIONS false.
		return &Error{Severity: "FATAL", Code: CodeObjectNotInPrerequisite, Message: "database \"" + database + "\" is not currently accepting connections", Err: err}
	case errors.Is(err, proxy.ErrShuttingDown):
		return &Error{Severity: "FATAL", Code: CodeCannotConnectNow, Message: "motorpool is shutting down", Err: err}
	}
	return &Error{Severity: "FATAL", Code: CodeInternalError, Message: err.Error(), Err: err}
}

// loginError is acquireError during login, which ends with any error: FATAL, as
// PostgreSQL sends during startup.
func (a *Adapter) loginError(err error) *Error {
	e := a.acquireError(err)
	e.Severity = "FATAL"
	return e
}

// acquireError turns a failure to get a server connection into the client's error.
func (a *Adapter) acquireError(err error) *Error {
	if errors.Is(err, errUserCancel) {
		return &Error{Severity: "ERROR", Code: CodeQueryCanceled, Message: errUserCancel.Error(), Err: err}
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	var se *ServerError
	if errors.As(err, &se) {
		return &Error{Severity: "FATAL", Code: se.Code, Message: se.Message, Detail: se.Detail, Hint: se.Hint, Err: err}
	}
	var ae *proxy.AcquireError
	if errors.As(err, &ae) {
		e := &Error{Severity: "ERROR", Code: CodeTooManyConnections, Message: ae.Error(), Err: err}
		if ae.Unreachable() {
			e.Code = CodeUnableToConnect
			var se *ServerError
			if errors.As(ae.Err, &se) {
				e.Code = se.Code // the database refused motorpool itself (auth, unknown database)
			}
		}
		if ae.Closed() {
			e.Severity, e.Code = "FATAL", CodeAdminShutdown
		}
		return e
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &Error{Severity: "FATAL", Code: CodeAdminShutdown, Message: "terminating connection due to administrator command", Err: err}
	}
	return &Error{Severity: "FATAL", Code: CodeConnectionFailure, Message: "server connection failed: " + err.Error(), Err: err}
}
