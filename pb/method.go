package pb

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Remote methods are found by name: a peer's call "joinGroup" on an
// avatar runs the Go method PerspectiveJoinGroup, on a Referenceable
// RemoteJoinGroup, on a Viewable ViewJoinGroup, on a RemoteCache
// ObserveJoinGroup. Only methods with those prefixes can be called.
//
// A method may take, in order: a context.Context; for View methods the
// calling perspective; then either positional parameters (the last may
// be variadic) or one struct whose fields carry `pb:"name"` tags, which
// also accepts keyword arguments and defaults:
//
//	type JoinArgs struct {
//		Group         string `pb:"groupname"`
//		AllowMattress bool   `pb:"allowMattress,default=true"`
//	}
//
// It returns nothing, a value, an error, or a value and an error.
//
// # Keyword arguments on plain methods
//
// Python callers pass arguments by position or by name as they please:
// mind.callRemote("print", "hi") and mind.callRemote("print",
// message="hi") mean the same to a Python remote_print(self, message).
// Go's reflection knows no parameter names, so an object declares them
// with a ParamNames method (see [ParamNamer]), keyed by the Go method
// name, one name per parameter after the context and the perspective:
//
//	func (w *Worker) RemotePrint(message string, stream string) { ... }
//
//	func (*Worker) ParamNames() map[string][]string {
//		return map[string][]string{
//			"RemotePrint": {"message", "stream=stdout"},
//		}
//	}
//
// A declared method then binds like a Python function: positional
// arguments first, then keywords by name; "name=default" gives an
// omitted argument a default (the `pb:"name,default=..."` syntax);
// a missing argument without one, an unknown keyword or a name given
// twice fail the call with a TypeError. A variadic last parameter is
// not named and takes only extra positional arguments. ParamNames is
// called once per type, on the first call; a name list whose length
// does not match its method fails every call to that method, and a key
// that names no method every call to the type, with an error that says
// so. A keyword sent to a method without
// names fails with a TypeError naming the method, the keyword and this
// declaration.
//
// An argument struct (above) works too, and suits methods with many
// optional arguments.
//
// # Typed arguments
//
// Arguments convert to the parameter's Go type by jelly.Convert's rules:
// a Python dict fills a struct (keys match `jelly:"name"` tags or field
// names, case-insensitively), a map[string]string or a map of structs;
// a list fills []string or a slice of structs; and so on, to any depth.
// (Such a struct is an ordinary parameter: give it jelly tags, not pb
// tags, which would make it the method's argument struct.) A mismatch
// fails the call with a TypeError that names the argument and the path
// inside it, for example
// "run() argument 'cmd': at ["env"]["CC"]: expected str, got int".

var errorType = reflect.TypeOf((*error)(nil)).Elem()
var contextType = reflect.TypeOf((*context.Context)(nil)).Elem()

// ParamNamer is implemented by objects that name the parameters of
// their remote methods, so that Python callers may pass them by keyword.
// ParamNames maps a Go method name ("RemotePrint") to its parameter
// names, each optionally "name=default". See method.go's "Remote
// methods" section.
type ParamNamer interface {
	ParamNames() map[string][]string
}

// paramNames caches each type's ParamNames (or nil).
var paramNames sync.Map // reflect.Type -> typeNames

type typeNames struct {
	m   map[string][]string
	err error
}

func namesOf(recv reflect.Value) typeNames {
	t := recv.Type()
	if v, ok := paramNames.Load(t); ok {
		return v.(typeNames)
	}
	var tn typeNames
	if pn, ok := recv.Interface().(ParamNamer); ok {
		tn.m = pn.ParamNames()
		for name := range tn.m {
			if _, ok := t.MethodByName(name); !ok {
				tn.err = fmt.Errorf("pb: %s.ParamNames names %s, which is not a method of %s", t, name, t)
				break
			}
		}
	}
	v, _ := paramNames.LoadOrStore(t, tn)
	return v.(typeNames)
}

type methodInfo struct {
	fn         reflect.Value // the method's func, receiver first
	goName     string        // e.g. "RemotePrint", for errors
	recvType   reflect.Type
	names      []argField // declared parameter names (ParamNames), or nil
	hasCtx     bool
	hasPersp   bool
	persp      reflect.Type
	params     []reflect.Type // positional parameters
	variadic   bool
	argsStruct reflect.Type // non-nil in struct mode
	fields     []argField
	nout       int
	errLast    bool
	err        error // a declaration problem, reported to the caller
}

type argField struct {
	name     string
	index    int
	required bool
	def      reflect.Value
}

// methodKey names a method as a peer calls it: the receiver's type, the
// prefix and the wire name.
type methodKey struct {
	t      reflect.Type
	prefix string
	name   string
}

// methods caches the methods found, keyed by the name peers call them
// by; its size is bounded by the methods that exist. Names that find no
// method are not cached: a peer cannot grow it.
var methods struct {
	sync.RWMutex
	m     map[methodKey]*methodInfo
	names map[string]string // wire names of found methods, interned
}

// methodName returns a call's method name: a STRING (or vocabulary
// word) that is valid UTF-8. Names of methods that exist are interned,
// so a call costs no copy of its name.
func methodName(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, utf8.ValidString(x)
	case []byte:
		methods.RLock()
		name, ok := methods.names[string(x)]
		methods.RUnlock()
		if ok {
			return name, true
		}
		return string(x), utf8.Valid(x)
	}
	return "", false
}

func goMethodName(prefix, name string) string {
	r, n := utf8.DecodeRuneInString(name)
	if r == utf8.RuneError || n == 0 {
		return ""
	}
	return prefix + string(unicode.ToUpper(r)) + name[n:]
}

// lookupMethod finds the method a peer calls name on a receiver of type
// t, or returns nil.
func lookupMethod(recv reflect.Value, prefix, name string, view bool) *methodInfo {
	t := recv.Type()
	k := methodKey{t, prefix, name}
	methods.RLock()
	mi, ok := methods.m[k]
	methods.RUnlock()
	if ok {
		return mi
	}
	goName := goMethodName(prefix, name)
	if goName == "" {
		return nil
	}
	m, ok := t.MethodByName(goName)
	if !ok {
		return nil
	}
	mi = analyze(m, view)
	mi.recvType = t
	if mi.err == nil && mi.argsStruct == nil {
		tn := namesOf(recv)
		if tn.err != nil {
			mi.err = tn.err
		} else if names, ok := tn.m[goName]; ok {
			mi.names, mi.err = declaredNames(mi, names)
		}
	}
	methods.Lock()
	if methods.m == nil {
		methods.m = make(map[methodKey]*methodInfo)
		methods.names = make(map[string]string)
	}
	methods.m[k] = mi
	methods.names[name] = name
	methods.Unlock()
	return mi
}

func analyze(m reflect.Method, view bool) *methodInfo {
	mt := m.Type
	mi := &methodInfo{fn: m.Func, goName: m.Name}
	in := 1 // skip the receiver
	if in < mt.NumIn() && mt.In(in) == contextType {
		mi.hasCtx = true
		in++
	}
	if view {
		if in >= mt.NumIn() {
			mi.err = fmt.Errorf("pb: %s must take the perspective as a parameter", m.Name)
			return mi
		}
		mi.hasPersp = true
		mi.persp = mt.In(in)
		in++
	}
	for ; in < mt.NumIn(); in++ {
		mi.params = append(mi.params, mt.In(in))
	}
	mi.variadic = mt.IsVariadic()
	if len(mi.params) == 1 && !mi.variadic && isArgsStruct(mi.params[0]) {
		mi.argsStruct = mi.params[0]
		mi.fields, mi.err = argFields(mi.argsStruct)
	}
	mi.nout = mt.NumOut()
	switch {
	case mi.nout > 2:
		mi.err = fmt.Errorf("pb: %s returns %d values; at most a value and an error", m.Name, mi.nout)
	case mi.nout == 2 && mt.Out(1) != errorType:
		mi.err = fmt.Errorf("pb: %s: the second result must be an error", m.Name)
	case mi.nout >= 1 && mt.Out(mi.nout-1) == errorType:
		mi.errLast = true
	}
	return mi
}

// declaredNames checks a method's ParamNames entry against its
// parameters.
func declaredNames(mi *methodInfo, names []string) ([]argField, error) {
	fixed := len(mi.params)
	if mi.variadic {
		fixed--
	}
	if len(names) != fixed {
		return nil, fmt.Errorf("pb: ParamNames gives %s %d names for its %d parameters (context, perspective and a variadic parameter are not named)", mi.goName, len(names), fixed)
	}
	out := make([]argField, fixed)
	for i, n := range names {
		name, def, hasDef := strings.Cut(n, "=")
		if name == "" {
			return nil, fmt.Errorf("pb: ParamNames: %s: parameter %d has no name", mi.goName, i+1)
		}
		for _, o := range out[:i] {
			if o.name == name {
				return nil, fmt.Errorf("pb: ParamNames: %s: parameter name %q given twice", mi.goName, name)
			}
		}
		af := argField{name: name, index: i, required: true}
		if hasDef {
			v, err := parseDefault(def, mi.params[i])
			if err != nil {
				return nil, fmt.Errorf("pb: ParamNames: %s: parameter %s: bad default %q: %v", mi.goName, name, def, err)
			}
			af.def, af.required = v, false
		}
		out[i] = af
	}
	return out, nil
}

func isArgsStruct(t reflect.Type) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	for i := 0; i < t.NumField(); i++ {
		if _, ok := t.Field(i).Tag.Lookup("pb"); ok {
			return true
		}
	}
	return false
}

func argFields(t reflect.Type) ([]argField, error) {
	var out []argField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("pb")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			r, n := utf8.DecodeRuneInString(f.Name)
			name = string(unicode.ToLower(r)) + f.Name[n:]
		}
		af := argField{name: name, index: i, required: true}
		if def, ok := strings.CutPrefix(opts, "default="); ok {
			v, err := parseDefault(def, f.Type)
			if err != nil {
				return nil, fmt.Errorf("pb: field %s: bad default %q: %v", f.Name, def, err)
			}
			af.def, af.required = v, false
		}
		out = append(out, af)
	}
	return out, nil
}

func parseDefault(s string, t reflect.Type) (reflect.Value, error) {
	var v any
	var err error
	switch t.Kind() {
	case reflect.String:
		v = s
	case reflect.Bool:
		v, err = strconv.ParseBool(s)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v, err = strconv.ParseInt(s, 10, 64)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v, err = strconv.ParseInt(s, 10, 64)
	case reflect.Float32, reflect.Float64:
		v, err = strconv.ParseFloat(s, 64)
	case reflect.Interface:
		switch s {
		case "None":
			v = nil
		case "True":
			v = true
		case "False":
			v = false
		default:
			if n, e := strconv.ParseInt(s, 10, 64); e == nil {
				v = n
			} else {
				v = s
			}
		}
	default:
		if s == "None" {
			return reflect.Zero(t), nil
		}
		return reflect.Value{}, fmt.Errorf("no default syntax for %s", t)
	}
	if err != nil {
		return reflect.Value{}, err
	}
	return convert(v, t)
}

// callMethod runs recv's method for c.
func callMethod(ctx context.Context, recv any, prefix string, c *Call, view bool) (any, error) {
	rv := reflect.ValueOf(recv)
	mi := lookupMethod(rv, prefix, c.Method, view)
	if mi == nil {
		return nil, noMethod(recv, prefix, c.Method)
	}
	if mi.err != nil {
		return nil, mi.err
	}
	var buf [6]reflect.Value
	in := append(buf[:0], rv)
	if mi.hasCtx {
		in = append(in, reflect.ValueOf(ctx))
	}
	if mi.hasPersp {
		pv, err := convert(c.Perspective, mi.persp)
		if err != nil {
			return nil, TypeError(fmt.Sprintf("%s(): the calling perspective does not fit: %v", c.Method, err))
		}
		in = append(in, pv)
	}
	var err error
	switch {
	case mi.argsStruct != nil:
		in, err = bindStruct(in, mi, c)
	case mi.names != nil && (c.Kwargs.Len() > 0 || len(c.Args) < len(mi.names)):
		in, err = bindNamed(in, mi, c)
	default:
		in, err = bindPositional(in, mi, c)
	}
	if err != nil {
		return nil, err
	}
	out := mi.fn.Call(in)
	switch {
	case mi.nout == 0:
		return nil, nil
	case mi.nout == 1 && mi.errLast:
		if e := out[0].Interface(); e != nil {
			return nil, e.(error)
		}
		return nil, nil
	case mi.nout == 1:
		return out[0].Interface(), nil
	}
	if e := out[1].Interface(); e != nil {
		return nil, e.(error)
	}
	return out[0].Interface(), nil
}

func noMethod(recv any, prefix, name string) error {
	cls := reflect.TypeOf(recv).String()
	cls = strings.TrimPrefix(cls, "*")
	if i := strings.LastIndexByte(cls, '.'); i >= 0 {
		cls = cls[i+1:]
	}
	py := strings.ToLower(prefix) + "_" + name
	if prefix == "Remote" {
		return &Error{Type: pyNoSuchMethod, Message: "No such method: " + py}
	}
	return &Error{Type: pyAttributeError, Message: fmt.Sprintf("'%s' object has no attribute '%s'", cls, py)}
}

func bindPositional(in []reflect.Value, mi *methodInfo, c *Call) ([]reflect.Value, error) {
	if c.Kwargs != nil && c.Kwargs.Len() > 0 {
		for _, it := range c.Kwargs.Items() {
			key, _ := jellyText(it.Key)
			return nil, TypeError(fmt.Sprintf("%s() got keyword argument '%s', but the Go method %s.%s has no parameter names: declare them with a ParamNames method on %s returning {%q: [names...]}, or take an argument struct with pb tags",
				c.Method, key, shortType(mi.recvType), mi.goName, shortType(mi.recvType), mi.goName))
		}
	}
	fixed := len(mi.params)
	if mi.variadic {
		fixed--
	}
	n := len(c.Args)
	if n < fixed || (!mi.variadic && n > fixed) {
		want := strconv.Itoa(fixed)
		if mi.variadic {
			want = "at least " + want
		}
		return nil, TypeError(fmt.Sprintf("%s() takes %s positional arguments but %d were given", c.Method, want, n))
	}
	for i := 0; i < fixed; i++ {
		if mi.params[i] == anyType {
			// The argument as it is, boxed already: converting it would
			// box it again.
			in = append(in, reflect.ValueOf(&c.Args[i]).Elem())
			continue
		}
		v, err := convert(c.Args[i], mi.params[i])
		if err != nil {
			if mi.names != nil {
				return nil, TypeError(fmt.Sprintf("%s() argument '%s': %v", c.Method, mi.names[i].name, err))
			}
			return nil, TypeError(fmt.Sprintf("%s() argument %d: %v", c.Method, i+1, err))
		}
		in = append(in, v)
	}
	if mi.variadic {
		et := mi.params[fixed].Elem()
		for i := fixed; i < n; i++ {
			v, err := convert(c.Args[i], et)
			if err != nil {
				return nil, TypeError(fmt.Sprintf("%s() argument %d: %v", c.Method, i+1, err))
			}
			in = append(in, v)
		}
	}
	return in, nil
}

func bindStruct(in []reflect.Value, mi *methodInfo, c *Call) ([]reflect.Value, error) {
	sv := reflect.New(mi.argsStruct).Elem()
	if len(c.Args) > len(mi.fields) {
		return nil, TypeError(fmt.Sprintf("%s() takes %d positional arguments but %d were given", c.Method, len(mi.fields), len(c.Args)))
	}
	set := make([]bool, len(mi.fields))
	for i, a := range c.Args {
		f := mi.fields[i]
		v, err := convert(a, sv.Field(f.index).Type())
		if err != nil {
			return nil, TypeError(fmt.Sprintf("%s() argument '%s': %v", c.Method, f.name, err))
		}
		sv.Field(f.index).Set(v)
		set[i] = true
	}
	if c.Kwargs != nil {
		for _, it := range c.Kwargs.Items() {
			key, ok := it.Key.(string)
			if !ok {
				return nil, TypeError(fmt.Sprintf("%s() keywords must be strings", c.Method))
			}
			j := -1
			for i, f := range mi.fields {
				if f.name == key {
					j = i
					break
				}
			}
			if j < 0 {
				return nil, TypeError(fmt.Sprintf("%s() got an unexpected keyword argument '%s'", c.Method, key))
			}
			if set[j] {
				return nil, TypeError(fmt.Sprintf("%s() got multiple values for argument '%s'", c.Method, key))
			}
			f := mi.fields[j]
			v, err := convert(it.Value, sv.Field(f.index).Type())
			if err != nil {
				return nil, TypeError(fmt.Sprintf("%s() argument '%s': %v", c.Method, key, err))
			}
			sv.Field(f.index).Set(v)
			set[j] = true
		}
	}
	for i, f := range mi.fields {
		if set[i] {
			continue
		}
		if f.required {
			return nil, TypeError(fmt.Sprintf("%s() missing required argument: '%s'", c.Method, f.name))
		}
		sv.Field(f.index).Set(f.def)
	}
	return append(in, sv), nil
}

// shortType names a receiver type without its package path: *jobs.Worker.
func shortType(t reflect.Type) string {
	if t == nil {
		return "?"
	}
	return t.String()
}

// bindNamed binds a call to a method with declared parameter names:
// positional arguments, then keywords, then defaults.
func bindNamed(in []reflect.Value, mi *methodInfo, c *Call) ([]reflect.Value, error) {
	fixed := len(mi.names)
	n := len(c.Args)
	if n > fixed && !mi.variadic {
		return nil, TypeError(fmt.Sprintf("%s() takes %d positional arguments but %d were given", c.Method, fixed, n))
	}
	var buf [8]reflect.Value
	vals := buf[:0]
	if fixed > len(buf) {
		vals = make([]reflect.Value, 0, fixed)
	}
	vals = vals[:fixed]
	for i := 0; i < n && i < fixed; i++ {
		v, err := convert(c.Args[i], mi.params[i])
		if err != nil {
			return nil, TypeError(fmt.Sprintf("%s() argument '%s': %v", c.Method, mi.names[i].name, err))
		}
		vals[i] = v
	}
	if c.Kwargs != nil {
		for _, it := range c.Kwargs.Items() {
			key, ok := jellyText(it.Key)
			if !ok {
				return nil, TypeError(fmt.Sprintf("%s() keywords must be strings", c.Method))
			}
			j := -1
			for i, f := range mi.names {
				if f.name == key {
					j = i
					break
				}
			}
			if j < 0 {
				return nil, TypeError(fmt.Sprintf("%s() got an unexpected keyword argument '%s' (%s.%s takes %s)", c.Method, key, shortType(mi.recvType), mi.goName, nameList(mi.names)))
			}
			if vals[j].IsValid() {
				return nil, TypeError(fmt.Sprintf("%s() got multiple values for argument '%s'", c.Method, key))
			}
			v, err := convert(it.Value, mi.params[j])
			if err != nil {
				return nil, TypeError(fmt.Sprintf("%s() argument '%s': %v", c.Method, key, err))
			}
			vals[j] = v
		}
	}
	for i, f := range mi.names {
		if vals[i].IsValid() {
			continue
		}
		if f.required {
			return nil, TypeError(fmt.Sprintf("%s() missing required argument: '%s'", c.Method, f.name))
		}
		vals[i] = f.def
	}
	in = append(in, vals...)
	if mi.variadic && n > fixed {
		et := mi.params[fixed].Elem()
		for i := fixed; i < n; i++ {
			v, err := convert(c.Args[i], et)
			if err != nil {
				return nil, TypeError(fmt.Sprintf("%s() argument %d: %v", c.Method, i+1, err))
			}
			in = append(in, v)
		}
	}
	return in, nil
}

func nameList(fs []argField) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

// jellyText returns a keyword's name: a str, or bytes that are UTF-8.
func jellyText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), utf8.Valid(x)
	}
	return "", false
}
