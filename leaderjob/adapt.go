package leaderjob

import (
	"context"
	"reflect"
)

// adaptNamed handles named function types (type Task func() error) whose
// underlying type is one of the Funcs shapes; a type switch sees only the
// exact unnamed types.
func adaptNamed(f any) Func {
	v := reflect.ValueOf(f)
	switch t := v.Type(); {
	case t.ConvertibleTo(reflect.TypeFor[func(context.Context) error]()):
		return v.Convert(reflect.TypeFor[func(context.Context) error]()).Interface().(func(context.Context) error)
	case t.ConvertibleTo(reflect.TypeFor[func(context.Context)]()):
		return Adapt(v.Convert(reflect.TypeFor[func(context.Context)]()).Interface().(func(context.Context)))
	case t.ConvertibleTo(reflect.TypeFor[func() error]()):
		return Adapt(v.Convert(reflect.TypeFor[func() error]()).Interface().(func() error))
	default:
		return Adapt(v.Convert(reflect.TypeFor[func()]()).Interface().(func()))
	}
}
