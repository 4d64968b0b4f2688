package command

func registerSet(t *Table) {}
