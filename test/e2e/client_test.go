package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// restClient talks JSON to the gateway like any REST client.
type restClient struct {
	base string
	hc   *http.Client
}

func newRESTClient(base string) *restClient {
	return &restClient{base: base, hc: &http.Client{Timeout: 10 * time.Second}}
}

// call is one REST request.
type call struct {
	method string
	path   string
	token  string
	// body is nil (no body), []byte (sent as is, with its length), an
	// io.Reader (sent chunked, length unknown) or a value sent as JSON.
	body any
	// requestID, when set, is sent as X-Request-Id.
	requestID string
	// header holds more headers to send.
	header map[string]string
}

// reply is a response read whole.
type reply struct {
	code   int
	header http.Header
	body   []byte
}

const requestIDHeader = "X-Request-Id"

// do sends c and reads the reply. Every reply must carry an X-Request-Id,
// the client's own when it sent one.
func (rc *restClient) do(t *testing.T, c call) reply {
	t.Helper()
	var body io.Reader
	switch b := c.body.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(b)
	case io.Reader:
		// Hidden behind a plain io.Reader, so net/http cannot learn its
		// length and sends it chunked.
		body = struct{ io.Reader }{b}
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(t.Context(), c.method, rc.base+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.requestID != "" {
		req.Header.Set(requestIDHeader, c.requestID)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := rc.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", c.method, c.path, err)
	}
	r := reply{code: resp.StatusCode, header: resp.Header, body: data}
	switch got := resp.Header.Get(requestIDHeader); {
	case got == "":
		t.Errorf("%s %s: no %s in the response", c.method, c.path, requestIDHeader)
	case c.requestID != "" && got != c.requestID:
		t.Errorf("%s %s: %s = %q, want the client's %q", c.method, c.path, requestIDHeader, got, c.requestID)
	}
	return r
}

// send sends c, which must be answered with the status want, and decodes
// the reply into v unless v is nil; another status stops t.
func (rc *restClient) send(t *testing.T, c call, want int, v any) reply {
	t.Helper()
	r := rc.do(t, c)
	if !r.want(t, c, want) {
		t.FailNow()
	}
	if v != nil {
		r.decode(t, v)
	}
	return r
}

// must runs a step that later steps depend on: when it fails, the test
// stops.
func must(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	if !t.Run(name, f) {
		t.FailNow()
	}
}

// communityBodies are communities A and B as a client creates them.
func communityBodies() (a, b map[string]any) {
	return map[string]any{"id": communityA, "name": communityAName, "district": districtA, "street": "太原街街道", "kind": "BLOCK", "households": 1800},
		map[string]any{"id": communityB, "name": communityBName, "district": districtB, "street": "大西街道", "kind": "COMPOUND", "households": 950}
}

// createCommunities creates communities A and B with the admin's token.
func (rc *restClient) createCommunities(t *testing.T, adminToken string) {
	t.Helper()
	a, b := communityBodies()
	for _, body := range []map[string]any{a, b} {
		rc.send(t, call{method: http.MethodPost, path: "/v1/communities", token: adminToken, body: body}, http.StatusOK, nil)
	}
}

// want fails t unless r has the status code; the message shows the request
// and the whole reply.
func (r reply) want(t *testing.T, c call, code int) bool {
	t.Helper()
	if r.code != code {
		t.Errorf("%s %s: status %d, want %d\nrequest body: %s\nresponse: %s",
			c.method, c.path, r.code, code, describeBody(c.body), r.body)
		return false
	}
	return true
}

// describeBody shows a request body in a failure message, shortened when
// it is one of the oversized ones.
func describeBody(b any) string {
	switch b := b.(type) {
	case nil:
		return "(none)"
	case []byte:
		if len(b) > 200 {
			return string(b[:200]) + "…"
		}
		return string(b)
	case io.Reader:
		return "(streamed)"
	}
	data, _ := json.Marshal(b)
	return string(data)
}

// decode unmarshals the reply's JSON body into v.
func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("response is not the expected JSON: %v\n%s", err, r.body)
	}
}

// rpcStatus is a google.rpc.Status as the gateway writes it.
type rpcStatus struct {
	Code    int         `json:"code"`
	Message string      `json:"message"`
	Details []rpcDetail `json:"details"`
}

// rpcDetail is one detail of a status: a BadRequest or an ErrorInfo here.
type rpcDetail struct {
	Type            string           `json:"@type"`
	FieldViolations []fieldViolation `json:"fieldViolations"`
	Reason          string           `json:"reason"`
}

type fieldViolation struct {
	Field       string `json:"field"`
	Description string `json:"description"`
}

const (
	typeBadRequest = "type.googleapis.com/google.rpc.BadRequest"
	typeErrorInfo  = "type.googleapis.com/google.rpc.ErrorInfo"
)

// status decodes the reply as a google.rpc.Status.
func (r reply) status(t *testing.T) rpcStatus {
	t.Helper()
	var st rpcStatus
	r.decode(t, &st)
	return st
}

// violatedFields lists the fields named by the status's BadRequest details.
func (st rpcStatus) violatedFields() []string {
	var fields []string
	for _, d := range st.Details {
		if d.Type != typeBadRequest {
			continue
		}
		for _, v := range d.FieldViolations {
			fields = append(fields, v.Field)
		}
	}
	return fields
}

// reasons lists the reasons of the status's ErrorInfo details.
func (st rpcStatus) reasons() []string {
	var rs []string
	for _, d := range st.Details {
		if d.Type == typeErrorInfo {
			rs = append(rs, d.Reason)
		}
	}
	return rs
}

// retiree is the Retiree resource as a client reads it.
type retiree struct {
	ID                   string   `json:"id"`
	IDNumber             string   `json:"idNumber"`
	IDNumberMasked       string   `json:"idNumberMasked"`
	Name                 string   `json:"name"`
	Sex                  string   `json:"sex"`
	BirthDate            string   `json:"birthDate"`
	EnterpriseCreditCode string   `json:"enterpriseCreditCode"`
	CommunityID          string   `json:"communityId"`
	ManagementMode       string   `json:"managementMode"`
	Status               string   `json:"status"`
	Phone                string   `json:"phone"`
	PhoneMasked          string   `json:"phoneMasked"`
	Flags                []string `json:"flags"`
	DateOfDeath          string   `json:"dateOfDeath"`
	Etag                 string   `json:"etag"`
}

// transfer is a Transfer as the gateway answers it.
type transfer struct {
	ID                    string `json:"id"`
	RetireeID             string `json:"retireeId"`
	FromCommunityID       string `json:"fromCommunityId"`
	ToCommunityID         string `json:"toCommunityId"`
	State                 string `json:"state"`
	DeclineReason         string `json:"declineReason"`
	RetireeName           string `json:"retireeName"`
	RetireeIDNumberMasked string `json:"retireeIdNumberMasked"`
}

// reportRow is a SocialisationRow; int64 fields are JSON strings in
// protojson, and zero values are left out.
type reportRow struct {
	Key               string  `json:"key"`
	Name              string  `json:"name"`
	Living            int64   `json:"living,string"`
	CommunityManaged  int64   `json:"communityManaged,string"`
	BureauManaged     int64   `json:"bureauManaged,string"`
	EnterpriseManaged int64   `json:"enterpriseManaged,string"`
	Rate              float64 `json:"rate"`
}

type report struct {
	GroupBy string      `json:"groupBy"`
	Rows    []reportRow `json:"rows"`
	Total   reportRow   `json:"total"`
}

// containsAny returns the first of values found in body, or "".
func containsAny(body []byte, values ...string) string {
	lower := strings.ToLower(string(body))
	for _, v := range values {
		if strings.Contains(lower, strings.ToLower(v)) {
			return v
		}
	}
	return ""
}
