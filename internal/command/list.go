package command

func registerList(t *Table) {}
