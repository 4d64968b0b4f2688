package command

func registerKeys(t *Table) {}
