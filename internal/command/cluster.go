package command

import "slices"

// Cluster commands (cluster.c) as a Redis 7.0 instance without cluster
// support answers them: CLUSTER (every subcommand, HELP too), READONLY,
// READWRITE and ASKING reply ErrClusterDisabled once the command's arity
// passed, which is what cluster-aware clients (go-redis's ClusterClient,
// redis-cli -c) read to fall back to a single node. RESTORE-ASKING is
// RESTORE with Redis's asking flag: outside a cluster it is RESTORE, and
// shares its handler (dump.go).

// ErrClusterDisabled is Redis's reply to cluster commands on an instance
// without cluster support.
const ErrClusterDisabled = "ERR This instance has cluster support disabled"

func init() {
	registrations = append(registrations, registerCluster)
	// COMMAND's metadata (command_cmd.go).
	for name, args := range map[string]string{
		"cluster": "", "cluster|addslots": "slot:i...", "cluster|addslotsrange": "(start-slot:i end-slot:i)...",
		"cluster|bumpepoch": "", "cluster|count-failure-reports": "node-id", "cluster|countkeysinslot": "slot:i",
		"cluster|delslots": "slot:i...", "cluster|delslotsrange": "(start-slot:i end-slot:i)...",
		"cluster|failover": "[FORCE|TAKEOVER]", "cluster|flushslots": "", "cluster|forget": "node-id",
		"cluster|getkeysinslot": "slot:i count:i", "cluster|help": "", "cluster|info": "", "cluster|keyslot": "key:s",
		"cluster|links": "", "cluster|meet": "ip port:i [cluster_bus_port:i]", "cluster|myid": "", "cluster|nodes": "",
		"cluster|replicas": "node-id", "cluster|replicate": "node-id", "cluster|reset": "[HARD|SOFT]",
		"cluster|saveconfig": "", "cluster|set-config-epoch": "config-epoch:i",
		"cluster|setslot": "slot:i (IMPORTING node-id|MIGRATING node-id|NODE node-id|STABLE)",
		"cluster|shards":  "", "cluster|slaves": "node-id", "cluster|slots": "",
		"asking": "", "readonly": "", "readwrite": "",
		"restore-asking": argSyntax["restore"],
	} {
		argSyntax[name] = args
	}
	keySpecTable["restore-asking"] = keySpecTable["restore"]
	for _, name := range []string{"cluster|info", "cluster|bumpepoch", "cluster|replicas", "cluster|count-failure-reports",
		"cluster|slaves", "cluster|slots", "cluster|shards", "cluster|links", "cluster|nodes", "cluster|getkeysinslot"} {
		tipTable[name] = "nondeterministic_output"
	}
	for _, name := range []string{"cluster|bumpepoch", "cluster|addslotsrange", "cluster|delslots", "cluster|flushslots",
		"cluster|forget", "cluster|failover", "cluster|replicate", "cluster|meet", "cluster|saveconfig", "cluster|setslot",
		"cluster|set-config-epoch", "cluster|addslots", "cluster|delslotsrange"} {
		noAsyncLoading[name] = true
	}
	deprecations["cluster|slaves"] = "5.0.0 `CLUSTER REPLICAS`"
	deprecations["cluster|slots"] = "7.0.0 `CLUSTER SHARDS`"
	// Redis's asking flag (RESTORE-ASKING's), which ferry's Flags lack:
	// COMMAND INFO shows it between skip_slowlog and fast.
	at := slices.IndexFunc(commandFlagNames, func(f commandFlagName) bool { return f.name == "skip_slowlog" }) + 1
	commandFlagNames = slices.Insert(commandFlagNames, at, commandFlagName{"asking", func(cmd *Command, _ *cmdMeta) bool {
		return cmd.Name == "restore-asking"
	}})
}

// commandFlagName is an element of commandFlagNames.
type commandFlagName = struct {
	name string
	has  func(cmd *Command, m *cmdMeta) bool
}

func registerCluster(t *Table) {
	cl := func(name string, arity int, flags Flags, since string) *Command {
		return &Command{Name: name, Arity: arity, Flags: flags, Group: "cluster", Since: since,
			Summary: clusterSummaries[name], ACL: []string{"slow"}, Handler: clusterDisabledCmd}
	}
	const adm = Admin | Stale
	t.Add(cl("cluster", -2, 0, "3.0.0"))
	t.Add(
		cl("cluster|addslots", -3, adm, "3.0.0"),
		cl("cluster|addslotsrange", -4, adm, "7.0.0"),
		cl("cluster|bumpepoch", 2, adm, "3.0.0"),
		cl("cluster|count-failure-reports", 3, adm, "3.0.0"),
		cl("cluster|countkeysinslot", 3, Stale, "3.0.0"),
		cl("cluster|delslots", -3, adm, "3.0.0"),
		cl("cluster|delslotsrange", -4, adm, "7.0.0"),
		cl("cluster|failover", -2, adm, "3.0.0"),
		cl("cluster|flushslots", 2, adm, "3.0.0"),
		cl("cluster|forget", 3, adm, "3.0.0"),
		cl("cluster|getkeysinslot", 4, Stale, "3.0.0"),
		cl("cluster|help", 2, Loading|Stale, "5.0.0"),
		cl("cluster|info", 2, Stale, "3.0.0"),
		cl("cluster|keyslot", 3, Stale, "3.0.0"),
		cl("cluster|links", 2, Stale, "7.0.0"),
		cl("cluster|meet", -4, adm, "3.0.0"),
		cl("cluster|myid", 2, Stale, "3.0.0"),
		cl("cluster|nodes", 2, Stale, "3.0.0"),
		cl("cluster|replicas", 3, adm, "5.0.0"),
		cl("cluster|replicate", 3, adm, "3.0.0"),
		cl("cluster|reset", -2, adm|NoScript, "3.0.0"),
		cl("cluster|saveconfig", 2, adm, "3.0.0"),
		cl("cluster|set-config-epoch", 3, adm, "3.0.0"),
		cl("cluster|setslot", -4, adm, "3.0.0"),
		cl("cluster|shards", 2, Stale, "7.0.0"),
		cl("cluster|slaves", 3, adm, "3.0.0"),
		cl("cluster|slots", 2, Stale, "3.0.0"),
	)
	conn := []string{"fast", "connection"}
	t.Add(
		&Command{Name: "asking", Arity: 1, Flags: Fast, Group: "cluster", Since: "3.0.0", ACL: conn, Handler: clusterDisabledCmd,
			Summary: "Lets the next command reach a slot being imported (cluster mode, which ferry does not have)."},
		&Command{Name: "readonly", Arity: 1, Flags: Loading | Stale | Fast, Group: "cluster", Since: "3.0.0", ACL: conn, Handler: clusterDisabledCmd,
			Summary: "Lets a cluster replica serve reads (cluster mode, which ferry does not have: its replicas always serve reads)."},
		&Command{Name: "readwrite", Arity: 1, Flags: Loading | Stale | Fast, Group: "cluster", Since: "3.0.0", ACL: conn, Handler: clusterDisabledCmd,
			Summary: "Ends READONLY on a cluster replica (cluster mode, which ferry does not have)."},
		&Command{Name: "restore-asking", Arity: -4, Flags: Write | DenyOOM, FirstKey: 1, LastKey: 1, Step: 1, Group: "server", Since: "3.0.0",
			ACL: []string{"keyspace", "write", "slow", "dangerous"}, Handler: restoreCmd,
			Summary: "RESTORE as a cluster migration sends it; without a cluster, the same as RESTORE."},
	)
}

// clusterDisabledCmd answers every cluster command.
func clusterDisabledCmd(c *Ctx) { c.Error(ErrClusterDisabled) }

// clusterSummaries are COMMAND DOCS summaries of CLUSTER and its
// subcommands.
var clusterSummaries = map[string]string{
	"cluster":                       "Cluster administration (cluster mode, which ferry does not have: every subcommand says so).",
	"cluster|addslots":              "Assigns hash slots to this node.",
	"cluster|addslotsrange":         "Assigns ranges of hash slots to this node.",
	"cluster|bumpepoch":             "Advances this node's configuration epoch.",
	"cluster|count-failure-reports": "Counts the failure reports about a node.",
	"cluster|countkeysinslot":       "Counts the keys of a hash slot.",
	"cluster|delslots":              "Unassigns hash slots from this node.",
	"cluster|delslotsrange":         "Unassigns ranges of hash slots from this node.",
	"cluster|failover":              "Makes a cluster replica take over its master.",
	"cluster|flushslots":            "Unassigns every hash slot of this node.",
	"cluster|forget":                "Removes a node from this node's table.",
	"cluster|getkeysinslot":         "Lists keys of a hash slot.",
	"cluster|help":                  "Lists the CLUSTER subcommands.",
	"cluster|info":                  "Describes the cluster's state.",
	"cluster|keyslot":               "Replies with a key's hash slot.",
	"cluster|links":                 "Lists the cluster bus links.",
	"cluster|meet":                  "Joins another node into the cluster.",
	"cluster|myid":                  "Replies with this node's ID.",
	"cluster|nodes":                 "Describes the cluster's nodes.",
	"cluster|replicas":              "Lists a master's replica nodes.",
	"cluster|replicate":             "Makes this node a replica of a master node.",
	"cluster|reset":                 "Resets this node's cluster state.",
	"cluster|saveconfig":            "Writes the cluster configuration to disk.",
	"cluster|set-config-epoch":      "Sets a new node's configuration epoch.",
	"cluster|setslot":               "Binds a hash slot to a node, or marks it migrating or importing.",
	"cluster|shards":                "Describes the cluster's shards.",
	"cluster|slaves":                "Lists a master's replica nodes.",
	"cluster|slots":                 "Maps hash slots to nodes.",
}
