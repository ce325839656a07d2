// Package config owns orchard's YAML configuration: the fixed keys of
// DESIGN.md (sensor, mail, verdict, correlation, allow, capture, outputs,
// metrics) plus the host table bounds, the mail-server presets for Microsoft
// 365 and Google Workspace, and the embedded default used by the demo.
//
// It imports only the standard library and go.yaml.in/yaml/v3. Parse walks
// the yaml.Node tree itself so that every error names the file, the line and
// the dotted field path ("mail.servers[0].addresses[1]"). Errors are returned
// as Errors, a list of *Error, so a user fixes all of them in one pass;
// ErrEmpty means the document has no content.
package config
