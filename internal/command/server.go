package command

func registerServer(t *Table) {}
