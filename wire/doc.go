// Package wire holds every document leaderjob's programs exchange with
// each other and with other programs: the types, their JSON shape, and the
// rule each follows when its reader and writer are of different releases.
// It imports the standard library only, so that a tool reading these
// documents links nothing else of leaderjob.
//
// The documents, who writes them and who reads them:
//
//   - [Answer]: the leader answer, {"name":"<leader>"} plus fields old
//     clients ignore. leaderjob-elector serves it on every path, and a
//     leaderjob App on GET /leader; [ParseAnswer] reads it into a [Leader]
//     (package sidecarclient does, for the sidecar guard). The change
//     stream at [StreamPath] carries one Answer per event. An Answer that
//     names no leader says why with an [AnswerReason].
//   - [JobsResponse]: the body of an App's GET /jobs.
//   - [Control]: operators' requests, [PauseRequest] and [RunRequest],
//     written by kubectl-leaderjob into the ConfigMap
//     [ControlConfigMap](app) and read by the App.
//   - [Ledger]: the fleet's ledger, stored by the App in the ConfigMap
//     [LedgerConfigMap](app), read by the App and kubectl-leaderjob. It
//     holds the App's acknowledgements of the operators' requests,
//     [Pause] and [Run].
//
// # Compatibility
//
// Readers ignore fields they do not know, and writers add fields only as
// optional ones, so that any two releases exchange these documents, with
// these rules besides:
//
//   - The leader answer is read tolerantly: it may come as text/plain or
//     application/json, with or without last_update and the fields of
//     leaderjob-elector; {}, {"name":""} and {"name":null} name no leader.
//     Everything else that is not an object with a string "name" is
//     refused, with a message that tells what the body looks like instead
//     (another server, another elector protocol); see ParseAnswer.
//   - Reason codes ([AnswerReason], [SkipReason]) are open sets: a reader
//     must accept a code it does not know.
//   - The ledger carries a format version ([LedgerFormat]). A reader
//     refuses a ledger of a newer format with an error wrapping
//     [ErrNewerFormat] ([DecodeLedger]) rather than misread it, and a
//     writer never overwrites one. It refuses as well, with an error
//     wrapping [ErrNotALedger], data that is not a ledger at all: JSON
//     null, an object without the format version, a job set to null, a
//     claim without a fire time ([Ledger.Validate]).
//   - A [RunRequest] carries the time it was made (At): the App runs it
//     only within [RunRequestExpiry] of that time, and refuses it after
//     ([RunRequest.Check], [ErrRunExpired]), so that a request id runs at
//     most once however long it stays listed. Writers may remove expired
//     requests.
package wire
