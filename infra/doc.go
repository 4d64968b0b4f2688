// Package infra holds ferry's Terraform for AWS (the module in this
// directory and an example stack in examples/basic) and the Go test that
// checks it without providers: every file parses and is formatted, every
// reference resolves, every variable has a type and a description, every
// output a description, every module argument is a variable of the module.
package infra
