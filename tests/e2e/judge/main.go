// Command eshop-judge is the judge the operator's tests use: it says what
// outside tools make of an EShop's status. kstatus reads it as Flux does
// (sigs.k8s.io/cli-utils/pkg/kstatus/status), and Argo CD's Lua health check
// (deploy/argocd/eshop-operator.github.io/EShop/health.lua) runs under
// gopher-lua as Argo CD runs a resource health script.
//
// Usage: eshop-judge <path-to-health.lua> < object.json
//
// Standard input holds one object as the API server returns it, or null for
// an object that does not exist. Standard output gets one line:
//
//	{"kstatus":{"status":"Current","message":"..."},"argo":{"status":"Healthy","message":"..."}}
//
// Bad input, or a health script that fails or returns no table, exits 2.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// verdict is one tool's judgement.
type verdict struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

type judgement struct {
	Kstatus verdict `json:"kstatus"`
	Argo    verdict `json:"argo"`
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: eshop-judge <path-to-health.lua> < object.json")
	}
	script, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("reading the health script: %v", err)
	}
	input, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail("reading standard input: %v", err)
	}
	j, err := judge(input, string(script))
	if err != nil {
		fail("%v", err)
	}
	out := json.NewEncoder(os.Stdout)
	out.SetEscapeHTML(false)
	if err := out.Encode(j); err != nil {
		fail("writing the verdict: %v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "eshop-judge: "+format+"\n", args...)
	os.Exit(2)
}

func judge(input []byte, script string) (judgement, error) {
	if bytes.Equal(bytes.TrimSpace(input), []byte("null")) {
		// What kstatus's poller reports for an absent object, and Argo CD's
		// health of a resource that is not in the cluster.
		return judgement{
			Kstatus: verdict{Status: string(status.NotFoundStatus), Message: "object not found"},
			Argo:    verdict{Status: "Missing"},
		}, nil
	}
	// Decoded as client-go decodes objects: whole numbers become int64.
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(input); err != nil {
		return judgement{}, fmt.Errorf("standard input is not a Kubernetes object in JSON: %w", err)
	}
	kstatus, err := status.Compute(obj)
	if err != nil {
		return judgement{}, fmt.Errorf("kstatus: %w", err)
	}
	argo, err := argoHealth(obj.Object, script)
	if err != nil {
		return judgement{}, fmt.Errorf("health script: %w", err)
	}
	return judgement{
		Kstatus: verdict{Status: string(kstatus.Status), Message: kstatus.Message},
		Argo:    argo,
	}, nil
}

// argoHealth runs a health script as Argo CD does (its util/lua package,
// VM.ExecuteHealthLua) for a check installed in argocd-cm without
// resource.customizations.useOpenLibs (the default): only the libraries
// openArgoLibs opens, the object as the global obj, one second to run, and
// the status and message of the table the script returns.
func argoHealth(obj map[string]any, script string) (verdict, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	openArgoLibs(l)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return verdict{}, err
	}
	// Argo CD takes the value on top of the stack: the script's last result.
	result, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return verdict{}, fmt.Errorf("expect table output from Lua script, not %s", l.Get(-1).Type())
	}
	// Argo CD decodes the table, encoded as JSON, into its status and
	// message: a field of another type fails.
	var health verdict
	for field, into := range map[string]*string{"status": &health.Status, "message": &health.Message} {
		switch value := result.RawGetString(field).(type) {
		case *lua.LNilType:
		case lua.LString:
			*into = string(value)
		default:
			return verdict{}, fmt.Errorf("the returned %s is a %s, not a string", field, value.Type())
		}
	}
	// Argo CD's health statuses; it turns any other into this Unknown.
	switch health.Status {
	case "Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown":
		return health, nil
	}
	return verdict{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
}

// openArgoLibs mirrors the libraries Argo CD opens for a health script when
// useOpenLibs is off (built-in scripts get every gopher-lua library): from
// gopher-lua's standard libraries only package, base and table, and its own
// "safe" os, which holds only time and date. That os is no global (Argo CD's
// opener registers it under the name of the already open table library, which
// changes nothing): a script reaches it only with require("os"). The time and
// date here are gopher-lua's own, which Argo CD's are copied from.
func openArgoLibs(l *lua.LState) {
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.OsLibName, lua.OpenOs},
	} {
		l.Push(l.NewFunction(lib.open))
		l.Push(lua.LString(lib.name))
		l.Call(1, 0)
	}
	fullOs := l.GetGlobal(lua.OsLibName).(*lua.LTable)
	safeOs := l.NewTable()
	for _, name := range []string{"time", "date"} {
		safeOs.RawSetString(name, fullOs.RawGetString(name))
	}
	l.SetGlobal(lua.OsLibName, lua.LNil)
	l.SetField(l.GetField(l.GetGlobal(lua.LoadLibName), "loaded"), lua.OsLibName, lua.LNil)
	l.PreloadModule(lua.OsLibName, func(l *lua.LState) int {
		l.Push(safeOs)
		return 1
	})
}

// toLua converts a decoded object as Argo CD does: maps become tables keyed by
// string, lists become arrays, numbers, strings and booleans stay what they
// are, and null (or anything else) is nil.
func toLua(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []any:
		array := l.CreateTable(len(v), 0)
		for _, item := range v {
			array.Append(toLua(l, item))
		}
		return array
	case map[string]any:
		table := l.CreateTable(0, len(v))
		for key, item := range v {
			table.RawSetH(lua.LString(key), toLua(l, item))
		}
		return table
	}
	return lua.LNil
}
